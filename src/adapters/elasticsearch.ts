/**
 * The search engine behind ELASTICSEARCH_URL: Elasticsearch through its official client of the
 * server's major (9 or 8, see elasticsearchClient), or OpenSearch through its own
 * (./opensearch.ts), told apart when sluice connects. All give the stages one `SearchClient`: the
 * operations sluice uses, with the Elasticsearch clients' parameters, results and error classes.
 * Index administration uses the typed API; bulk requests take a prebuilt NDJSON string so that no
 * document is serialized twice, and are retried on 429, 5xx and dropped connections by the shared
 * policy (src/retry.ts).
 */
import {
  Client,
  errors,
  type estypes,
  HttpConnection,
  type TransportRequestOptions,
  type TransportRequestOptionsWithMeta,
  type TransportRequestOptionsWithOutMeta,
  type TransportRequestParams,
  type TransportResult,
} from "@elastic/elasticsearch";
import { type Env, requireEnv, type SearchAccess } from "../config/env.ts";
import { SluiceError } from "../errors.ts";
import { backoffDelay, RETRY_DEFAULTS, type RetryPolicy, retryWhile, sleep, withRetries } from "../retry.ts";
import { maskUrl } from "../redact.ts";
import { type BulkEndpoint, bulkEndpoint, fetchFailureMessage, postBulk } from "./bulk-fetch.ts";
import { isCertificateError } from "./tls-errors.ts";

export interface EngineInfo {
  product: "elasticsearch" | "opensearch";
  /** The server's version, when it says (the Elasticsearch integ-test zip answers `GET /` with 405). */
  version: string | null;
}

/** One call as the Elasticsearch clients (9 and 8) type it: the body, or the whole response with `meta: true`. */
export interface Operation<Request, Response> {
  (params: Request, options: TransportRequestOptionsWithMeta): Promise<TransportResult<Response, unknown>>;
  (params: Request, options?: TransportRequestOptionsWithOutMeta | TransportRequestOptions): Promise<Response>;
}

/** What sluice calls on a search engine, whichever it is. */
export interface SearchClient {
  readonly engine: EngineInfo;
  /** The client library talking to it and its major, e.g. `@elastic/elasticsearch 9`. */
  readonly client: string;
  readonly indices: {
    create: Operation<estypes.IndicesCreateRequest, estypes.IndicesCreateResponse>;
    delete: Operation<estypes.IndicesDeleteRequest, estypes.IndicesDeleteResponse>;
    exists: Operation<estypes.IndicesExistsRequest, boolean>;
    existsAlias: Operation<estypes.IndicesExistsAliasRequest, boolean>;
    get: Operation<estypes.IndicesGetRequest, estypes.IndicesGetResponse>;
    getAlias: Operation<estypes.IndicesGetAliasRequest, estypes.IndicesGetAliasResponse>;
    putSettings: Operation<estypes.IndicesPutSettingsRequest, estypes.IndicesPutSettingsResponse>;
    refresh: Operation<estypes.IndicesRefreshRequest, estypes.IndicesRefreshResponse>;
    updateAliases: Operation<estypes.IndicesUpdateAliasesRequest, estypes.IndicesUpdateAliasesResponse>;
    clone: Operation<estypes.IndicesCloneRequest, estypes.IndicesCloneResponse>;
    putMapping: Operation<estypes.IndicesPutMappingRequest, estypes.IndicesPutMappingResponse>;
    /** The scale-out ramp's rate: the index's indexing total. */
    stats: Operation<estypes.IndicesStatsRequest, estypes.IndicesStatsResponse>;
  };
  readonly cluster: { health: Operation<estypes.ClusterHealthRequest | undefined, estypes.ClusterHealthResponse> };
  readonly nodes: {
    info: Operation<estypes.NodesInfoRequest | undefined, estypes.NodesInfoResponse>;
    /** The scale-out ramp's view of how busy each node's machine is (`os.cpu.percent`). */
    stats: Operation<estypes.NodesStatsRequest | undefined, estypes.NodesStatsResponse>;
  };
  readonly count: Operation<estypes.CountRequest | undefined, estypes.CountResponse>;
  readonly search: Operation<estypes.SearchRequest, estypes.SearchResponse<unknown>>;
  readonly fieldCaps: Operation<estypes.FieldCapsRequest, estypes.FieldCapsResponse>;
  /** `_rank_eval` (the rank-eval module): search checks' judgment files. */
  readonly rankEval: Operation<estypes.RankEvalRequest, estypes.RankEvalResponse>;
  readonly mget: Operation<estypes.MgetRequest, estypes.MgetResponse<unknown>>;
  /** Sync's reads of the live index (point in time + `_shard_doc`): Elasticsearch only. */
  readonly openPointInTime: Operation<estypes.OpenPointInTimeRequest, estypes.OpenPointInTimeResponse>;
  readonly closePointInTime: Operation<estypes.ClosePointInTimeRequest, estypes.ClosePointInTimeResponse>;
  /** Elasticsearch only: where sendBulk POSTs with Bun's fetch (./bulk-fetch.ts); without it, through `transport`. */
  readonly bulkEndpoint?: BulkEndpoint;
  readonly transport: { request(params: TransportRequestParams, options?: TransportRequestOptions): Promise<unknown> };
  close(): Promise<void>;
}

export function engineName(engine: EngineInfo): string {
  return `${engine.product === "opensearch" ? "OpenSearch" : "Elasticsearch"}${engine.version ? ` ${engine.version}` : ""}`;
}

/** The engine at ELASTICSEARCH_URL, with the environment's credentials and CA. */
export function openConfiguredSearch(env: Env): Promise<SearchClient> {
  return openSearch(requireEnv(env, "elasticsearchUrl", "ELASTICSEARCH_URL"), env.elasticsearchAccess);
}

/** `access`: ELASTICSEARCH_API_KEY / _USERNAME / _PASSWORD / _CA_CERT (src/config/env.ts), used by the probe and both clients alike. */
export async function openSearch(url: string, access: SearchAccess = {}): Promise<SearchClient> {
  const engine = await detectEngine(url, access);
  const major = serverMajor(engine);
  if (engine.product === "elasticsearch" && major !== null && major < 8) {
    throw new SluiceError(`ELASTICSEARCH_URL (${maskUrl(url)}) is Elasticsearch ${engine.version}, which sluice does not support`, {
      hint: "upgrade the cluster to Elasticsearch 8.19 or 9, or point ELASTICSEARCH_URL at one",
    });
  }
  // Each other client is loaded only for the engine that needs it: every import costs start-up time
  // and memory in every command (about 0.2 s each on a loaded 2-core machine).
  const client = engine.product === "opensearch" ? (await import("./opensearch.ts")).openSearchClient(url, engine, access) : await elasticsearchClient(url, engine, access);
  try {
    await client.cluster.health({ timeout: "10s" });
  } catch (error) {
    await client.close().catch(() => {});
    throw searchError(error, url, "reach");
  }
  return client;
}

/** The server's major version (`9` of `9.5.4`); null when it did not say. */
export function serverMajor(engine: EngineInfo): number | null {
  const major = Number.parseInt(engine.version ?? "", 10);
  return Number.isFinite(major) ? major : null;
}

/**
 * The client of the server's major. Each client sends `compatible-with=<its major>` in Accept and
 * Content-Type, and a server takes its own major and the one before: Elasticsearch 8 refuses the 9
 * client's requests with a body (`media_type_header_exception`), while 9 takes the 8 client's. So
 * 8 gets the 8 client, 9 and later the 9 client, and a server that hides its version (a user
 * without `monitor`) the 8 client, which both majors accept.
 */
const REQUEST_TIMEOUT_MS = 120_000;

async function elasticsearchClient(url: string, engine: EngineInfo, access: SearchAccess): Promise<SearchClient> {
  const major = serverMajor(engine);
  const options = {
    node: url,
    requestTimeout: REQUEST_TIMEOUT_MS,
    maxRetries: 0,
    compression: false,
    ...(access.apiKey ? { auth: { apiKey: access.apiKey } } : access.username ? { auth: { username: access.username, password: access.password ?? "" } } : {}),
    ...(access.ca ? { tls: { ca: access.ca } } : {}),
  };
  // The default undici connection fails under Bun ("response.headers" is undefined); node:http works.
  // The 8 client's API is the 9 client's with the `body` form besides (which sluice does not use).
  const nine = major !== null && major >= 9;
  const client = nine ? new Client({ ...options, Connection: HttpConnection }) : await client8(options);
  return {
    engine,
    client: `@elastic/elasticsearch ${nine ? 9 : 8}`,
    indices: client.indices,
    cluster: client.cluster,
    nodes: client.nodes,
    count: ((params: estypes.CountRequest, options?: TransportRequestOptions) => client.count(params, options)) as SearchClient["count"],
    search: ((params: estypes.SearchRequest, options?: TransportRequestOptions) => client.search(params, options)) as SearchClient["search"],
    fieldCaps: ((params: estypes.FieldCapsRequest, options?: TransportRequestOptions) => client.fieldCaps(params, options)) as SearchClient["fieldCaps"],
    mget: ((params: estypes.MgetRequest, options?: TransportRequestOptions) => client.mget(params, options)) as SearchClient["mget"],
    openPointInTime: ((params: estypes.OpenPointInTimeRequest, options?: TransportRequestOptions) => client.openPointInTime(params, options)) as SearchClient["openPointInTime"],
    closePointInTime: ((params: estypes.ClosePointInTimeRequest, options?: TransportRequestOptions) => client.closePointInTime(params, options)) as SearchClient["closePointInTime"],
    rankEval: ((params: estypes.RankEvalRequest, options?: TransportRequestOptions) => client.rankEval(params, options)) as SearchClient["rankEval"],
    transport: client.transport,
    bulkEndpoint: bulkEndpoint(url, authorizationHeader(new URL(url), access), access.ca, REQUEST_TIMEOUT_MS),
    close: () => client.close(),
  };
}

/**
 * Which engine answers at `url`. OpenSearch says so in `GET /` (`version.distribution`);
 * Elasticsearch sends `x-elastic-product` on every answer, so when `GET /` is refused (405 from
 * the integ-test zip) `_cluster/health` tells.
 */
export async function detectEngine(url: string, access: SearchAccess = {}): Promise<EngineInfo> {
  const probe = (path: string) => probeOnce(url, path, access);
  const root = await probe("/");
  const version = (root.json as { version?: { number?: string; distribution?: string } } | null)?.version;
  if (root.status === 200 && version?.distribution === "opensearch") return { product: "opensearch", version: version.number ?? null };
  const elastic = root.product === "Elasticsearch" || (await probe("/_cluster/health")).product === "Elasticsearch";
  if (elastic) {
    if (root.status === 200 && version?.number) return { product: "elasticsearch", version: version.number };
    const local = (await probe("/_nodes/_local?filter_path=nodes.*.version")).json as { nodes?: Record<string, { version?: string }> } | null;
    return { product: "elasticsearch", version: Object.values(local?.nodes ?? {})[0]?.version ?? null };
  }
  const said = root.status === 200 ? JSON.stringify(version ?? null) : `HTTP ${root.status}`;
  throw new SluiceError(`ELASTICSEARCH_URL (${maskUrl(url)}) is neither Elasticsearch nor OpenSearch (GET / answered ${said}, without x-elastic-product)`, {
    hint: "point ELASTICSEARCH_URL at an Elasticsearch 8.19 or 9 cluster, or an OpenSearch 2 one",
  });
}

/** The `Authorization` header for `access`, else for the URL's own credentials; null when there are none. */
export function authorizationHeader(url: URL, access: SearchAccess): string | null {
  if (access.apiKey) return `ApiKey ${access.apiKey}`;
  if (access.username) return `Basic ${btoa(`${access.username}:${access.password ?? ""}`)}`;
  if (url.username || url.password) return `Basic ${btoa(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`)}`;
  return null;
}



function certificateHint(access: SearchAccess): string {
  return access.ca
    ? "the server's certificate does not chain to ELASTICSEARCH_CA_CERT or does not name this host; check both"
    : "set ELASTICSEARCH_CA_CERT to the PEM file of the CA that signed the server's certificate";
}

/** Headers and Bun's `tls` for a plain `fetch` to the engine (status's quick reads), with the same credentials and CA as the clients. */
export function searchFetchInit(url: string, access: SearchAccess): { headers: Record<string, string>; tls?: { ca: string } } {
  const authorization = authorizationHeader(new URL(url), access);
  return { headers: authorization ? { authorization } : {}, ...(access.ca ? { tls: { ca: access.ca } } : {}) };
}

async function probeOnce(url: string, path: string, access: SearchAccess): Promise<{ status: number; product: string | null; json: unknown }> {
  const target = new URL(url);
  const headers: Record<string, string> = { accept: "application/json" };
  const authorization = authorizationHeader(target, access);
  if (authorization) headers.authorization = authorization;
  target.username = "";
  target.password = "";
  const [pathname, search = ""] = path.split("?");
  target.pathname = `${target.pathname.replace(/\/$/, "")}${pathname}`;
  target.search = search;
  let res: Response;
  try {
    // `tls` is Bun's fetch option: the CA that ELASTICSEARCH_CA_CERT names is what this server must chain to.
    const once = () => fetch(target, { headers, signal: AbortSignal.timeout(30_000), ...(access.ca ? { tls: { ca: access.ca } } : {}) } as RequestInit);
    // A node that takes the connection and closes it is restarting (or a proxy's backend is): asked
    // again for 3.8 to 7.5 s, as PostgreSQL's first connection is. A refused connection fails at once.
    res = await retryWhile(once, (error) => (error as { code?: string })?.code === "ECONNRESET", RETRY_DEFAULTS.searchControl);
  } catch (error) {
    const text = `${(error as { code?: string }).code ?? ""} ${(error as Error).message}`;
    const certificate = isCertificateError(text);
    throw new SluiceError(`cannot reach ELASTICSEARCH_URL (${maskUrl(url)}): ${certificate ? "TLS certificate verification failed: " : ""}${fetchFailureMessage(error)}`, {
      hint: certificate ? certificateHint(access) : "is Elasticsearch running? `scripts/services up` starts a local one",
      cause: error,
    });
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel().catch(() => {});
    const used = access.apiKey ? "ELASTICSEARCH_API_KEY" : access.username ? "ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD" : authorization ? "the credentials in ELASTICSEARCH_URL" : "no credentials";
    throw new SluiceError(`ELASTICSEARCH_URL (${maskUrl(url)}) refused ${used}: HTTP ${res.status} ${res.status === 401 ? "Unauthorized" : "Forbidden"}`, {
      hint: authorization ? "check the key or the username and password, and the user's privileges" : "set ELASTICSEARCH_API_KEY, or ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD",
    });
  }
  const text = await res.text().catch(() => "");
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, product: res.headers.get("x-elastic-product"), json };
}

/** The 8 client, under an npm alias (package.json), loaded when the first Elasticsearch 8 server is met; until then none of its errors can exist. */
let es8: typeof import("es8client") | null = null;

async function client8(options: ConstructorParameters<typeof Client>[0]): Promise<Client> {
  es8 ??= await import("es8client");
  return new es8.Client({ ...options, Connection: es8.HttpConnection } as ConstructorParameters<typeof es8.Client>[0]) as unknown as Client;
}

/** A refusal from the server, thrown by either client (each has its own error classes); OpenSearch's are turned into the 9 client's. */
export function isResponseError(error: unknown): error is errors.ResponseError {
  return error instanceof errors.ResponseError || (es8 !== null && error instanceof es8.errors.ResponseError);
}

/** The server refused to create an index because one of that name exists (`resource_already_exists_exception`). */
export function isIndexExists(error: unknown): boolean {
  return (error as { body?: { error?: { type?: string } } })?.body?.error?.type === "resource_already_exists_exception";
}

/** The request timed out, from either client. */
function isTimeoutError(error: unknown): error is errors.TimeoutError {
  return error instanceof errors.TimeoutError || (es8 !== null && error instanceof es8.errors.TimeoutError);
}

/** No answer at all (refused, dropped, timed out), from either client. */
export function isConnectionFailure(error: unknown): error is errors.ConnectionError | errors.TimeoutError {
  return error instanceof errors.ConnectionError || (es8 !== null && error instanceof es8.errors.ConnectionError) || isTimeoutError(error);
}

/**
 * An idempotent control call (index create or delete, settings, mapping, refresh, count, a read),
 * tried again while the node cannot be reached: a restart, or a kept-alive connection the node
 * closed. Timeouts are not retried (a node that took 2 minutes once will again), nor anything the
 * node answered. The bulk path and the alias move keep their own rules (sendBulk; swap/promote.ts
 * reads back).
 */
export function whileReachable<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  return retryWhile(call, (error) => !isTimeoutError(error) && isConnectionFailure(error), RETRY_DEFAULTS.searchControl, signal);
}

export function searchError(error: unknown, url: string, doing: string): SluiceError {
  const where = `ELASTICSEARCH_URL (${maskUrl(url)})`;
  if (isConnectionFailure(error)) {
    return new SluiceError(`cannot ${doing} ${where}: ${error.message}`, {
      hint: "is Elasticsearch running? `scripts/services up` starts a local one",
      cause: error,
    });
  }
  if (isResponseError(error)) {
    const reason = (error.body as { error?: { reason?: string } })?.error?.reason ?? error.message;
    return new SluiceError(`Elasticsearch refused to ${doing}: ${reason} (HTTP ${error.statusCode})`, { cause: error });
  }
  return new SluiceError(`cannot ${doing} ${where}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** What the ownership check needs to know about an index name; null when nothing has that name. */
export interface IndexDescription {
  /** The concrete index: another name when the one asked about is an alias. */
  concrete: string;
  aliases: string[];
  /** `mappings._meta`, where sluice keeps its mark. */
  meta: unknown;
  createdAt: Date | null;
}

export async function describeIndex(client: SearchClient, name: string): Promise<IndexDescription | null> {
  let res: Record<string, { aliases?: Record<string, unknown>; mappings?: { _meta?: unknown }; settings?: { index?: { creation_date?: string } } }>;
  try {
    res = (await client.indices.get({ index: name, expand_wildcards: "all" })) as typeof res;
  } catch (error) {
    if (isResponseError(error) && error.statusCode === 404) return null;
    throw error;
  }
  const entries = Object.entries(res);
  if (!entries.length) return null;
  // An alias over several indices: the one named first is enough to refuse.
  const [concrete, index] = entries.find(([key]) => key === name) ?? entries[0]!;
  const created = Number(index.settings?.index?.creation_date);
  return {
    concrete,
    aliases: Object.keys(index.aliases ?? {}),
    meta: index.mappings?._meta ?? null,
    createdAt: Number.isFinite(created) && created > 0 ? new Date(created) : null,
  };
}

/** Indices an alias points at; [] when the alias does not exist. */
export async function aliasTargets(client: SearchClient, alias: string): Promise<string[]> {
  if (!(await client.indices.existsAlias({ name: alias }))) {
    if (await client.indices.exists({ index: alias })) {
      throw new SluiceError(`"${alias}" is a concrete index, not an alias, so it cannot be swapped`, {
        hint: `reindex it or delete it, then let sluice create the alias "${alias}"`,
      });
    }
    return [];
  }
  const res = await client.indices.getAlias({ name: alias });
  return Object.keys(res);
}

export async function countDocuments(client: SearchClient, index: string): Promise<number> {
  return (await client.count({ index })).count;
}

/** Names of the modules and plugins every node of the cluster has (`_nodes/plugins`). */
/** Modules per client: the cluster-fit check and the search checks of one run ask once. */
const modulesByClient = new WeakMap<SearchClient, Promise<Set<string>>>();

export function clusterModules(client: SearchClient): Promise<Set<string>> {
  let modules = modulesByClient.get(client);
  if (!modules) {
    modules = readClusterModules(client);
    modules.catch(() => modulesByClient.delete(client));
    modulesByClient.set(client, modules);
  }
  return modules;
}

async function readClusterModules(client: SearchClient): Promise<Set<string>> {
  const res = (await client.nodes.info({ metric: "plugins", filter_path: ["nodes.*.modules.name", "nodes.*.plugins.name"] })) as unknown as {
    nodes?: Record<string, { modules?: { name: string }[]; plugins?: { name: string }[] }>;
  };
  const nodes = Object.values(res.nodes ?? {});
  const perNode = nodes.map((n) => new Set([...(n.modules ?? []), ...(n.plugins ?? [])].map((m) => m.name)));
  // An index lands on any node, so a module counts only when all have it.
  return new Set([...(perNode[0] ?? [])].filter((name) => perNode.every((set) => set.has(name))));
}

export type AliasAction = { add: { index: string; alias: string } } | { remove: { index: string; alias: string } };

/** One `_aliases` call: Elasticsearch applies all its actions atomically. */
export async function updateAliases(client: SearchClient, actions: AliasAction[]): Promise<void> {
  if (actions.length) await client.indices.updateAliases({ actions });
}

export interface BulkItemResult {
  status: number;
  id: string;
  index: string;
  error?: { type: string; reason: string };
}

export interface BulkSendOptions {
  /** @default RETRY_DEFAULTS.bulk */
  policy?: RetryPolicy;
  signal?: AbortSignal;
  /** Called before each wait with the reason counted: `http_429`, `http_503`, `connection`, … */
  onRetry?: (reason: string, delayMs: number) => void;
  /**
   * Ask for each item's status and error only, not its `_index` and `_id` (the items come back with
   * both empty): for a caller that knows them from its own body, a response a third the size to
   * parse, which was a sixth of the index stage's CPU.
   */
  statusOnly?: boolean;
  /** Every action must name an alias (`require_alias`): a write never creates an index. */
  requireAlias?: boolean;
  /**
   * The body holds `index` actions only, so an answer whose `errors` is false means every one was
   * indexed (Elasticsearch sets it when any item failed; a delete's not_found is no failure, hence
   * index actions only): its items are not read, and the outcome is `allIndexed`.
   */
  indexActionsOnly?: boolean;
}

/**
 * What Elasticsearch made of one `_bulk` body: its items; or, for a body of index actions only
 * (indexActionsOnly), that every one was indexed; or a refusal of the whole body for its size.
 */
export type BulkOutcome = { items: BulkItemResult[] } | { allIndexed: true } | { tooLarge: true };

/** Every error status: the transport returns these as data instead of building a ResponseError. */
const ERROR_STATUSES = Array.from({ length: 200 }, (_, i) => 400 + i);
const BULK_FILTER = "errors,items.*.status,items.*._id,items.*._index,items.*.error.type,items.*.error.reason";
const BULK_STATUS_FILTER = "errors,items.*.status,items.*.error.type,items.*.error.reason";

type BulkBody = { items?: Record<string, { status: number; _id?: string; _index?: string; error?: { type: string; reason: string } }>[]; error?: { type?: string; reason?: string } | string };

/**
 * Sends one `_bulk` body. Whole-request failures (429, 5xx, a dropped connection) are retried by
 * the shared policy; a 413 (the body is over the cluster's http.max_content_length) comes back as
 * `tooLarge` for the caller to split; per-item 429s are in the items for the caller to resend.
 * Throws once attempts are used up, or at once for any other refusal.
 *
 * Elasticsearch bulks go through Bun's fetch (./bulk-fetch.ts: measured cheaper than the client); OpenSearch
 * keeps its client. Why, there, `ignore` and `redaction: remove`: on an error status the client builds a ResponseError whose
 * meta is a redacted deep copy of the request, multi-megabyte body included, walked key by key:
 * about 1.5 s of CPU per rejected request, which made a 429 storm cost more than the indexing.
 * Taking every status as data, and having connection errors drop their meta instead of copying it,
 * makes a rejection cost next to nothing while keeping the client's connection, auth and TLS.
 */
export async function sendBulk(client: SearchClient, ndjson: string | Buffer, options: BulkSendOptions & { indexActionsOnly: true }): Promise<BulkOutcome>;
export async function sendBulk(client: SearchClient, ndjson: string | Buffer, options?: BulkSendOptions & { indexActionsOnly?: false }): Promise<Exclude<BulkOutcome, { allIndexed: true }>>;
export async function sendBulk(client: SearchClient, ndjson: string | Buffer, options: BulkSendOptions = {}): Promise<BulkOutcome> {
  let lastError: unknown = null;
  let lastRefusal = "";
  const outcome = await withRetries<BulkOutcome>(
    async () => {
      let res: { statusCode: number | null; body: unknown };
      const filterPath = options.statusOnly ? BULK_STATUS_FILTER : BULK_FILTER;
      try {
        res = client.bulkEndpoint
          ? await postBulk(client.bulkEndpoint, ndjson, filterPath, options.signal, options.requireAlias, options.indexActionsOnly)
          : ((await client.transport.request(
              { method: "POST", path: "/_bulk", bulkBody: ndjson, querystring: { filter_path: filterPath, ...(options.requireAlias ? { require_alias: "true" } : {}) } },
              { signal: options.signal, meta: true, ignore: ERROR_STATUSES, redaction: { type: "remove" } } as never,
            )) as { statusCode: number | null; body: unknown });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (!isConnectionFailure(error)) throw error;
        lastError = error;
        return { retry: isTimeoutError(error) ? "timeout" : "connection" };
      }
      const status = res.statusCode ?? 0;
      if (status < 300) {
        if (options.indexActionsOnly && (res.body as { errors?: unknown } | null)?.errors === false) return { done: { allIndexed: true } };
        return { done: { items: bulkItems(res.body as BulkBody) } };
      }
      if (status === 413) return { done: { tooLarge: true } };
      lastError = null;
      lastRefusal = `${refusalReason(res.body)} (HTTP ${status})`;
      if (status === 429 || status >= 500) return { retry: `http_${status}` };
      throw new SluiceError(`Elasticsearch refused a _bulk request: ${lastRefusal}`, {
        hint:
          status === 401 || status === 403
            ? "the credentials stopped being accepted mid-run (an expired or revoked API key), or they lack the write privilege on the index: renew or grant them, then run again"
            : "check the index's mappings and the cluster's logs, then run the index stage again",
      });
    },
    { policy: options.policy ?? RETRY_DEFAULTS.bulk, signal: options.signal, onRetry: (_n, reason, delay) => options.onRetry?.(reason, delay) },
  );
  if ("done" in outcome) return outcome.done;
  // A connection that never came back is reported as one, naming ELASTICSEARCH_URL (searchError).
  if (lastError) throw lastError;
  throw new SluiceError(`Elasticsearch refused a _bulk request ${outcome.attempts} times: ${lastRefusal}`, {
    hint: "the cluster is overloaded or failing; check its health and logs, then run the index stage again (or lower index.concurrency)",
  });
}

/** What became of the ids deleteIds was given. */
export interface DeleteOutcome {
  deleted: number;
  /** Already gone: not a failure. */
  absent: number;
  /** By reason (the error type, `http_<status>`, `too_large`). */
  failed: Record<string, number>;
}

/**
 * Deletes ids from an index in one `_bulk` body: the request is retried by the shared policy (429,
 * 5xx, a cut connection), and ids the answer rejected one by one with 429 are resent
 * (RETRY_DEFAULTS.bulkItems), as the index stage resends documents; a busy node's write queue
 * rejects deletes as readily as writes. `onRetry` hears each resend: its reason and how many ids.
 */
export async function deleteIds(
  es: SearchClient,
  index: string,
  ids: readonly string[],
  options: { signal?: AbortSignal; onRetry?: (reason: string, ids: number) => void; itemPolicy?: RetryPolicy } = {},
): Promise<DeleteOutcome> {
  const result: DeleteOutcome = { deleted: 0, absent: 0, failed: {} };
  const fail = (reason: string, n = 1) => (result.failed[reason] = (result.failed[reason] ?? 0) + n);
  const itemPolicy = options.itemPolicy ?? RETRY_DEFAULTS.bulkItems;
  let pending = ids;
  for (let resend = 0; pending.length; resend++) {
    const body = pending.map((id) => `{"delete":{"_index":${JSON.stringify(index)},"_id":${JSON.stringify(id)}}}\n`).join("");
    const sent = pending.length;
    const outcome = await sendBulk(es, body, { signal: options.signal, statusOnly: true, onRetry: (reason) => options.onRetry?.(reason, sent) });
    if ("tooLarge" in outcome) {
      fail("too_large", pending.length);
      break;
    }
    // Items answer in the order of the body's actions.
    const rejected: string[] = [];
    outcome.items.forEach((item, i) => {
      if (item.status < 300) result.deleted++;
      else if (item.status === 404) result.absent++;
      else if (item.status === 429 && resend < itemPolicy.attempts - 1) rejected.push(pending[i]!);
      else fail(item.error?.type ?? `http_${item.status}`);
    });
    if (rejected.length) {
      options.onRetry?.("item_429", rejected.length);
      await sleep(backoffDelay(resend + 1, itemPolicy), options.signal);
    }
    pending = rejected;
  }
  return result;
}

function bulkItems(body: BulkBody): BulkItemResult[] {
  return (body.items ?? []).map((item) => {
    const op = Object.values(item)[0]!;
    return { status: op.status, id: op._id ?? "", index: op._index ?? "", ...(op.error ? { error: op.error } : {}) };
  });
}

function refusalReason(body: unknown): string {
  const error = (body as BulkBody | null)?.error;
  if (typeof error === "string") return error;
  if (error?.reason || error?.type) return error.reason ?? error.type!;
  return typeof body === "string" && body ? body.slice(0, 200) : "no reason given";
}
