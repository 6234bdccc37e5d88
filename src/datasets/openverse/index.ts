/** Openverse dataset rules: cleanup, Elasticsearch documents and index bodies. */
export * from "./clean.ts";
export * from "./documents.ts";
export * from "./index-body.ts";
