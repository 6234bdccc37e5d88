/**
 * metadata.txt, Pacifica's upload metadata: a JSON list of objects, each with a `destinationTable`.
 *
 *   [{ "destinationTable": "Transactions.submitter", "value": 10 },
 *    { "destinationTable": "TransactionKeyValue", "key": "Tag", "value": "foo" },
 *    { "destinationTable": "Files", "name": "foo.txt", "subdir": "data/a/b/", "size": 4,
 *      "hashtype": "sha1", "hashsum": "f1d2…", "mimetype": "text/plain", "ctime": "…", "mtime": "…" }]
 *
 * Parsing is pure: text in, a checked `BundleMetadata` out, or a BundleRejectedError naming the
 * item and field at fault.
 */
import { BundleRejectedError } from "./rejection.ts";
import { normalizeBundlePath, UNSAFE_PATH_TEXT } from "./paths.ts";

export const METADATA_FILE = "metadata.txt";

/** Hash types a file may declare (hashlib's names), with the length of their hex digest. */
export const HASH_TYPES = { md5: 32, sha1: 40, sha224: 56, sha256: 64, sha384: 96, sha512: 128 } as const;
export type HashType = keyof typeof HASH_TYPES;

/** The transaction fields every bundle names. */
export const REQUIRED_TRANSACTION_FIELDS = ["submitter", "project", "instrument"] as const;

export interface BundleFile {
  /** subdir/name, normalized: the path of the file in the tar. */
  path: string;
  subdir: string;
  name: string;
  size: number;
  hashtype: HashType;
  /** Lowercase hex. */
  hashsum: string;
  mimetype: string;
  ctime: string | null;
  mtime: string | null;
}

export interface BundleMetadata {
  /** Every `Transactions.<field>`, values as text. */
  transaction: Record<string, string>;
  keyValues: { key: string; value: string }[];
  files: BundleFile[];
  /** The document as parsed, stored beside the rows. */
  document: unknown[];
}

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}(\s*;\s*[a-z0-9!#$&^_.+-]+=("[^"]*"|[^;\s]+))*$/i;
const FIX = `fix ${METADATA_FILE} in the bundle and build the tar again`;

function bad(message: string, hint = FIX): BundleRejectedError {
  return new BundleRejectedError("bad_metadata", `${METADATA_FILE}: ${message}`, hint);
}

export function parseMetadata(text: string): BundleMetadata {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw bad(`is not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(document)) throw bad("must be a JSON list of objects, each with a destinationTable");
  const transaction: Record<string, string> = {};
  const keyValues: BundleMetadata["keyValues"] = [];
  const files: BundleFile[] = [];
  const seen = new Set<string>();
  document.forEach((item, i) => {
    const at = `item ${i + 1}`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) throw bad(`${at} is not an object`);
    const entry = item as Record<string, unknown>;
    const table = entry.destinationTable;
    if (typeof table !== "string") throw bad(`${at} has no destinationTable`);
    if (table.startsWith("Transactions.") && table.length > "Transactions.".length) {
      const field = table.slice("Transactions.".length);
      if (field in transaction) throw bad(`${at} sets ${table} a second time`);
      transaction[field] = scalarText(entry.value, `${at} (${table}) value`);
    } else if (table === "TransactionKeyValue") {
      if (typeof entry.key !== "string" || entry.key === "") throw bad(`${at} (TransactionKeyValue) has no key`);
      keyValues.push({ key: entry.key, value: scalarText(entry.value, `${at} (TransactionKeyValue ${entry.key}) value`) });
    } else if (table === "Files") {
      const file = parseFile(entry, at);
      if (seen.has(file.path)) throw bad(`${at} lists ${file.path} a second time`);
      seen.add(file.path);
      files.push(file);
    } else {
      throw bad(`${at} has unknown destinationTable "${table}"`, "use Transactions.<field>, TransactionKeyValue or Files");
    }
  });
  for (const field of REQUIRED_TRANSACTION_FIELDS) {
    if (!(field in transaction)) throw bad(`Transactions.${field} is missing`, `add {"destinationTable": "Transactions.${field}", "value": …} to ${METADATA_FILE}`);
  }
  if (files.length === 0) throw bad("lists no Files", `add a {"destinationTable": "Files", …} item per file in the bundle`);
  return { transaction, keyValues, files, document };
}

function scalarText(value: unknown, what: string): string {
  if (typeof value === "string" && value.trim() !== "") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "boolean") return String(value);
  throw bad(`${what} is ${value === undefined ? "missing" : `${JSON.stringify(value)}, not a string or number`}`);
}

function parseFile(entry: Record<string, unknown>, at: string): BundleFile {
  const where = typeof entry.name === "string" ? `${at} (Files ${entry.name})` : `${at} (Files)`;
  if ("source" in entry) {
    throw bad(`${where} has a source path (a Pacifica move ingest)`, "sluice ingests only files inside the tar: put the file under its subdir in the bundle and drop source");
  }
  const name = entry.name;
  if (typeof name !== "string" || name === "") throw bad(`${where} has no name`);
  if (name.includes("/")) throw bad(`${where} name contains "/"`, "put the directories in subdir and only the file name in name");
  const subdir = entry.subdir;
  if (typeof subdir !== "string") throw bad(`${where} has no subdir`, 'give the directory inside the tar, e.g. "data/a/b"');
  const joined = normalizeBundlePath(`${subdir}/${name}`);
  if ("unsafe" in joined) throw bad(`${where} path ${JSON.stringify(`${subdir}/${name}`)} ${UNSAFE_PATH_TEXT[joined.unsafe]}`);
  if (joined.path === METADATA_FILE) throw bad(`${where} is ${METADATA_FILE} itself`, "data files go under a subdir such as data/");
  const size = entry.size;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw bad(`${where} size ${JSON.stringify(size ?? null)} is not a whole number of bytes`);
  const hashtype = typeof entry.hashtype === "string" ? entry.hashtype.toLowerCase() : entry.hashtype;
  if (typeof hashtype !== "string" || !(hashtype in HASH_TYPES)) {
    throw bad(`${where} hashtype ${JSON.stringify(entry.hashtype ?? null)} is not supported`, `use one of ${Object.keys(HASH_TYPES).join(", ")}`);
  }
  const digits = HASH_TYPES[hashtype as HashType];
  const hashsum = entry.hashsum;
  if (typeof hashsum !== "string" || !new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hashsum)) {
    throw bad(`${where} hashsum ${JSON.stringify(hashsum ?? null)} is not a ${hashtype} digest (${digits} hex digits)`);
  }
  const mimetype = entry.mimetype;
  if (typeof mimetype !== "string" || !MEDIA_TYPE.test(mimetype)) {
    throw bad(`${where} mimetype ${JSON.stringify(mimetype ?? null)} is not a media type such as text/plain`);
  }
  const normalizedSubdir = normalizeBundlePath(subdir);
  return {
    path: joined.path,
    subdir: "path" in normalizedSubdir ? normalizedSubdir.path : "",
    name: name.normalize("NFC"),
    size,
    hashtype: hashtype as HashType,
    hashsum: hashsum.toLowerCase(),
    mimetype,
    ctime: optionalText(entry.ctime),
    mtime: optionalText(entry.mtime),
  };
}

function optionalText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * What makes two bundles the same: the transaction, key/values and every file's path, size and
 * hash. Whitespace, item order and `data//a` versus `data/a` in metadata.txt do not matter, and
 * since every file's hash is in it, equal fingerprints mean equal contents.
 */
export function bundleFingerprint(meta: BundleMetadata): string {
  const transaction = Object.fromEntries(Object.entries(meta.transaction).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const files = [...meta.files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => [f.path, f.size, f.hashtype, f.hashsum, f.mimetype, f.ctime, f.mtime]);
  const keyValues = meta.keyValues.map((kv) => JSON.stringify([kv.key, kv.value])).sort();
  const canonical = JSON.stringify({ transaction, keyValues, files });
  return new Bun.CryptoHasher("sha256").update(canonical).digest("hex");
}
