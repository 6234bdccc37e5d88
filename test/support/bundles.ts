/**
 * Builds Pacifica-style bundles for the ingest tests from test/fixtures/pacifica: a metadata.txt
 * and the data/ tree, written as real tar files (modern-tar's packer, or the tar CLI) in a temp dir.
 */
import { createTarDecoder, packTar, type TarHeader } from "modern-tar";

export const PACIFICA = new URL("../fixtures/pacifica/", import.meta.url).pathname;
export const XLS = "data/a/c/パソコン資産管理台帳（S&T HK）_現地調達PC.xls";
export const DATA_FILES = ["data/a/b/foo.txt", "data/a/b/bar.txt", XLS] as const;

export interface Entry {
  name: string;
  body?: string | Uint8Array;
  type?: TarHeader["type"];
  linkname?: string;
}

export const fixtureBytes = (rel: string): Promise<Uint8Array> => Bun.file(`${PACIFICA}${rel}`).bytes();

/** good-md.json, optionally edited as a parsed list, as metadata.txt text. */
export async function goodMetadata(edit?: (items: any[]) => void): Promise<string> {
  const text = await Bun.file(`${PACIFICA}metadata-files/good-md.json`).text();
  if (!edit) return text;
  const items = JSON.parse(text);
  edit(items);
  return JSON.stringify(items, null, 2);
}

/** metadata.txt plus the three fixture files, in that order. */
export async function goodEntries(metadata?: string): Promise<Entry[]> {
  const entries: Entry[] = [{ name: "metadata.txt", body: metadata ?? (await goodMetadata()) }];
  for (const path of DATA_FILES) entries.push({ name: path, body: await fixtureBytes(path) });
  return entries;
}

export async function writeTar(path: string, entries: Entry[]): Promise<string> {
  const archive = await packTar(
    entries.map((e) => {
      const body = typeof e.body === "string" ? new TextEncoder().encode(e.body) : e.body;
      const header: TarHeader = { name: e.name, size: body?.length ?? 0, type: e.type ?? "file" };
      if (e.linkname) header.linkname = e.linkname;
      return { header, body };
    }),
  );
  await Bun.write(path, archive);
  return path;
}

/** The entries of a tar file as the decoder sees them: checks that a test's hostile tar really holds what it means to. */
export async function listTar(path: string): Promise<{ name: string; type: string; linkname: string | undefined }[]> {
  const out: { name: string; type: string; linkname: string | undefined }[] = [];
  for await (const entry of Bun.file(path).stream().pipeThrough(createTarDecoder())) {
    out.push({ name: entry.header.name, type: entry.header.type ?? "file", linkname: entry.header.linkname || undefined });
    await entry.body.cancel();
  }
  return out;
}

/** Runs the tar CLI in `cwd`; throws with its stderr when it fails. */
export async function tarCli(cwd: string, ...args: string[]): Promise<void> {
  const child = Bun.spawn(["tar", ...args], { cwd, stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`tar ${args.join(" ")} failed: ${stderr}`);
}
