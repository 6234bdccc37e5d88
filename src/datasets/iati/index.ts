/**
 * IATI activity files: decode, check, validate against the IATI 2.03 schema, flatten
 * like IATI's refresher, and split into activity, budget and transaction documents.
 * All functions are pure apart from reading the schemas embedded in the build.
 */
export { decodePayload, charsetFromContentType, charsetFromXmlDeclaration } from "./charset.ts";
export type { CharsetFailure, DecodedPayload } from "./charset.ts";

export { normaliseIatiDate } from "./dates.ts";

export { explodeActivity } from "./explode.ts";
export type { ChildDocument, ExplodeOptions, ExplodedActivity } from "./explode.ts";

export {
  DEFAULT_SUB_LIST_ELEMENTS,
  IatiFlattenError,
  flattenActivities,
  flattenActivity,
  iterateFlatActivities,
} from "./flatten.ts";
export type {
  DatasetAttributes,
  FlatActivity,
  FlatRecord,
  FlatValue,
  FlattenErrorCode,
  FlattenOptions,
} from "./flatten.ts";

export { DEFAULT_XML_LIMITS } from "./xml-guard.ts";
export type { XmlLimits } from "./xml-guard.ts";

export type { XmlIssue, XmlIssueSeverity } from "./xml-issue.ts";

export { checkWellFormed, validateActivities } from "./xml-validate.ts";
export type { RemovedActivity, ValidationReport, WellFormednessReport, XmlCheckOptions } from "./xml-validate.ts";
