/** Pure, dataset-independent transforms used by the copy and clean stages. */
export * from "./copy-text.ts";
export * from "./pg-types.ts";
export * from "./byte-builder.ts";
export * from "./copy-row-reader.ts";
export * from "./copy-binary.ts";
