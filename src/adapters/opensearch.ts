/**
 * OpenSearch, through its own client (@opensearch-project/opensearch): the Elasticsearch client
 * refuses any server that is not Elasticsearch. This adapter gives the stages the same
 * `SearchClient` they use for Elasticsearch: the operations sluice calls, with the Elasticsearch
 * clients' parameter names (body keys at the top level) and results (the body, or the whole
 * response with `meta: true`), and its error classes, so that ownership checks, retries and
 * one-line errors treat both engines alike.
 */
import { Client as OpenSearchClient, errors as osErrors } from "@opensearch-project/opensearch";
import { errors } from "@elastic/elasticsearch";
import type { SearchAccess } from "../config/env.ts";
import type { EngineInfo, SearchClient } from "./elasticsearch.ts";
import { SluiceError } from "../errors.ts";

type Params = Record<string, unknown>;
interface CallOptions {
  meta?: boolean;
  signal?: AbortSignal;
  ignore?: number[];
  requestTimeout?: number | string;
  headers?: Record<string, string>;
  redaction?: unknown;
  querystring?: Record<string, unknown>;
}
interface OpenSearchResponse {
  body: unknown;
  statusCode: number | null;
  headers: Record<string, unknown> | null;
  warnings: string[] | null;
}
type Abortable = Promise<OpenSearchResponse> & { abort?: () => void };

/** The search request keys the Elasticsearch clients take at the top level and OpenSearch's in `body`. */
const SEARCH_BODY_KEYS = ["query", "aggs", "aggregations", "sort", "size", "from", "_source", "track_total_hits", "search_after", "post_filter", "highlight", "collapse", "pit", "fields"] as const;

/** Moves the Elasticsearch clients' top-level body keys into `body`, as the OpenSearch client wants. */
function withBody(params: Params, bodyKeys: readonly string[]): Params {
  const out: Params = {};
  const body: Params = {};
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (bodyKeys.includes(key)) body[key] = value;
    else out[key] = value;
  }
  return Object.keys(body).length ? { ...out, body } : out;
}

/** The same failure as the Elasticsearch client would raise it. */
function asElasticError(error: unknown): unknown {
  const response = (error as { meta?: OpenSearchResponse }).meta;
  if (error instanceof osErrors.ResponseError && response) {
    return new errors.ResponseError({ body: response.body, statusCode: response.statusCode ?? undefined, headers: (response.headers ?? {}) as never, warnings: response.warnings, meta: {} as never });
  }
  if (error instanceof osErrors.TimeoutError) return new errors.TimeoutError(error.message);
  if (error instanceof osErrors.ConnectionError || error instanceof osErrors.NoLivingConnectionsError) return new errors.ConnectionError(error.message);
  if (error instanceof osErrors.RequestAbortedError) return new errors.RequestAbortedError(error.message);
  return error;
}

async function call(start: (options: Params) => Abortable, options: CallOptions = {}): Promise<unknown> {
  // `redaction` is the Elasticsearch client's alone (sendBulk sets it); OpenSearch's takes no such option.
  const { meta, signal, redaction: _redaction, ...rest } = options;
  signal?.throwIfAborted();
  const pending = start(rest as Params);
  const onAbort = () => pending.abort?.();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const res = await pending;
    return meta ? { ...res, meta: {} } : res.body;
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw asElasticError(error);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** One sluice operation: Elasticsearch-style parameters in, Elasticsearch-style result out. */
function operation<F>(run: (params: Params, options: Params) => Abortable, bodyKeys: readonly string[] = []): F {
  return ((params: Params = {}, options?: CallOptions) => call((o) => run(withBody(params, bodyKeys), o), options)) as F;
}

/** An operation sluice uses only on Elasticsearch: one line saying so, not an HTTP error. */
function notOnOpenSearch<F>(feature: string, why: string): F {
  return (async () => {
    throw new SluiceError(`${feature} is not supported on OpenSearch yet: it ${why}, which OpenSearch lacks`, {
      hint: `point ELASTICSEARCH_URL at Elasticsearch (8.19 or 9) to use ${feature}, or use \`sluice run\``,
    });
  }) as F;
}

export function openSearchClient(url: string, engine: EngineInfo, access: SearchAccess = {}): SearchClient {
  const client = new OpenSearchClient({
    node: url,
    requestTimeout: 120_000,
    maxRetries: 0,
    compression: undefined,
    // The OpenSearch client has no API-key option; the header is the same one Elasticsearch reads.
    ...(access.apiKey ? { headers: { authorization: `ApiKey ${access.apiKey}` } } : {}),
    ...(access.username ? { auth: { username: access.username, password: access.password ?? "" } } : {}),
    ...(access.ca ? { ssl: { ca: access.ca } } : {}),
  });
  const os = client as unknown as {
    indices: Record<string, (params: Params, options: Params) => Abortable>;
    cluster: Record<string, (params: Params, options: Params) => Abortable>;
    nodes: Record<string, (params: Params, options: Params) => Abortable>;
    count: (params: Params, options: Params) => Abortable;
    search: (params: Params, options: Params) => Abortable;
    fieldCaps: (params: Params, options: Params) => Abortable;
    mget: (params: Params, options: Params) => Abortable;
    rankEval: (params: Params, options: Params) => Abortable;
    transport: { request: (params: Params, options: Params) => Abortable };
  };
  type S = SearchClient;
  return {
    engine,
    client: "@opensearch-project/opensearch",
    indices: {
      create: operation<S["indices"]["create"]>((p, o) => os.indices.create!(p, o), ["settings", "mappings", "aliases"]),
      delete: operation<S["indices"]["delete"]>((p, o) => os.indices.delete!(p, o)),
      exists: operation<S["indices"]["exists"]>((p, o) => os.indices.exists!(p, o)),
      existsAlias: operation<S["indices"]["existsAlias"]>((p, o) => os.indices.existsAlias!(p, o)),
      get: operation<S["indices"]["get"]>((p, o) => os.indices.get!(p, o)),
      getAlias: operation<S["indices"]["getAlias"]>((p, o) => os.indices.getAlias!(p, o)),
      // Elasticsearch's client takes the settings as `settings`; the request body is the settings themselves.
      putSettings: operation<S["indices"]["putSettings"]>((p, o) => {
        const { settings, ...rest } = p;
        return os.indices.putSettings!({ ...rest, body: settings }, o);
      }),
      refresh: operation<S["indices"]["refresh"]>((p, o) => os.indices.refresh!(p, o)),
      updateAliases: operation<S["indices"]["updateAliases"]>((p, o) => os.indices.updateAliases!(p, o), ["actions"]),
      clone: operation<S["indices"]["clone"]>((p, o) => os.indices.clone!(p, o), ["settings", "aliases"]),
      putMapping: operation<S["indices"]["putMapping"]>((p, o) => os.indices.putMapping!(p, o), ["properties", "dynamic", "_meta", "_source"]),
      stats: operation<S["indices"]["stats"]>((p, o) => os.indices.stats!(p, o)),
    },
    cluster: { health: operation<S["cluster"]["health"]>((p, o) => os.cluster.health!(p, o)) },
    nodes: { info: operation<S["nodes"]["info"]>((p, o) => os.nodes.info!(p, o)), stats: operation<S["nodes"]["stats"]>((p, o) => os.nodes.stats!(p, o)) },
    count: operation<S["count"]>((p, o) => os.count(p, o), ["query"]),
    search: operation<S["search"]>((p, o) => os.search(p, o), SEARCH_BODY_KEYS),
    fieldCaps: operation<S["fieldCaps"]>((p, o) => os.fieldCaps(p, o), ["index_filter"]),
    rankEval: operation<S["rankEval"]>((p, o) => os.rankEval(p, o), ["requests", "metric"]),
    mget: operation<S["mget"]>((p, o) => os.mget(p, o), ["ids", "docs"]),
    openPointInTime: notOnOpenSearch("sync", "reads the live index through a point in time sorted by _shard_doc"),
    closePointInTime: notOnOpenSearch("sync", "reads the live index through a point in time sorted by _shard_doc"),
    transport: {
      request: (params, options) => call((o) => os.transport.request(params as unknown as Params, o), options as CallOptions),
    },
    close: () => client.close(),
  };
}
