/**
 * A large, valid IATI document served by a local registry, for the memory test and the bench:
 * one activity of the fixtures repeated with distinct iati-identifiers (3,000 copies make the
 * 42.6 MB document of issue 9), listed by a CKAN-like registry on 127.0.0.1.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { explodeActivity, flattenActivities } from "../../src/datasets/iati/index.ts";

const FIXTURE = new URL("../fixtures/iati/activities/test-org-1-activity-1.xml", import.meta.url).pathname;
const IDENTIFIER = "TEST-ORG-01-SPA-2020";

/** The fixture's activity `count` times, numbered; also what the index must then hold. */
export async function largeIatiDocument(count: number): Promise<{ xml: string; budgets: number; transactions: number }> {
  const text = await Bun.file(FIXTURE).text();
  const start = text.indexOf("<iati-activity ");
  const end = text.lastIndexOf("</iati-activity>") + "</iati-activity>".length;
  const activity = text.slice(start, end);
  const parts = [text.slice(0, start)];
  for (let n = 1; n <= count; n++) parts.push(activity.replace(IDENTIFIER, `${IDENTIFIER}-${n}`), "\n");
  parts.push(text.slice(end).trimStart());
  const one = explodeActivity(flattenActivities(text)[0]!);
  return { xml: parts.join(""), budgets: one.budgets.length * count, transactions: one.transactions.length * count };
}

/**
 * `normal` copies of the fixture's activity with, after the first, one activity of about
 * `largeBytes` (UTF-8): the fixture's activity with its first transaction repeated. Also what the
 * index holds when the large one is left out (`budgets`, `transactions` of the normal ones only)
 * and what the large one adds when it is not.
 */
export async function iatiDocumentWithLargeActivity(
  normal: number,
  largeBytes: number,
): Promise<{
  xml: string;
  largeId: string;
  largeLine: number;
  largeActivityBytes: number;
  budgets: number;
  transactions: number;
  /** The large activity's own budgets and transactions (the fixture's, and the copies added). */
  largeBudgets: number;
  largeTransactions: number;
}> {
  const text = await Bun.file(FIXTURE).text();
  const start = text.indexOf("<iati-activity ");
  const end = text.lastIndexOf("</iati-activity>") + "</iati-activity>".length;
  const activity = text.slice(start, end);
  const txStart = activity.indexOf("  <transaction>");
  const txEnd = activity.indexOf("</transaction>", txStart) + "</transaction>\n".length;
  const transaction = activity.slice(txStart, txEnd);
  const largeId = `${IDENTIFIER}-LARGE`;
  const copies = Math.max(0, Math.ceil((largeBytes - Buffer.byteLength(activity)) / Buffer.byteLength(transaction)));
  const large = `${activity.slice(0, txStart)}${transaction.repeat(copies)}${activity.slice(txStart)}`.replace(IDENTIFIER, largeId);
  const parts = [text.slice(0, start)];
  let largeLine = 0;
  for (let n = 1; n <= normal; n++) {
    parts.push(activity.replace(IDENTIFIER, `${IDENTIFIER}-${n}`), "\n");
    if (n === 1) {
      largeLine = parts.join("").split("\n").length;
      parts.push(large, "\n");
    }
  }
  parts.push(text.slice(end).trimStart());
  const one = explodeActivity(flattenActivities(text)[0]!);
  return {
    xml: parts.join(""),
    largeId,
    largeLine,
    largeActivityBytes: Buffer.byteLength(large),
    budgets: one.budgets.length * normal,
    transactions: one.transactions.length * normal,
    largeBudgets: one.budgets.length,
    largeTransactions: one.transactions.length + copies,
  };
}

export interface LocalRegistry {
  /** A sluice.config.ts whose `iati` dataset lists the document from this registry. */
  configFile: string;
  stop(): void;
}

/** Serves `xml` as the only document of a local registry, under the registry id `id`. */
export async function serveLargeDocument(xml: string, datasetModule: string, id = "large"): Promise<LocalRegistry> {
  const body = new TextEncoder().encode(xml);
  const host = Bun.serve({ port: 0, fetch: () => new Response(body, { headers: { "content-type": "application/xml" } }) });
  const registry = Bun.serve({
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      if (url.pathname !== "/api/3/action/package_search") return new Response("?", { status: 404 });
      const results = Number(url.searchParams.get("start")) > 0 ? [] : [
        { id, name: `${id}-doc`, organization: { name: id }, resources: [{ url: `${host.url}large.xml`, hash: "h" }], metadata_modified: "2024-06-20T07:10:17.000000" },
      ];
      return Response.json({ success: true, result: { count: 1, results } });
    },
  });
  const configFile = join(mkdtempSync(join(tmpdir(), "sluice-iati-large-")), "sluice.config.ts");
  await Bun.write(
    configFile,
    `import { iatiDataset } from ${JSON.stringify(datasetModule)};
const base = iatiDataset({ IATI_REGISTRY_URL: ${JSON.stringify(`${registry.url}api/3/action`)} });
export default { datasets: { iati: { ...base, payload: { ...base.payload, timeoutMs: 120000 } } } };
`,
  );
  return {
    configFile,
    stop() {
      host.stop(true);
      registry.stop(true);
      rmSync(dirname(configFile), { recursive: true, force: true });
    },
  };
}
