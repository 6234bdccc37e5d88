/// <reference path="./schema/xsd.d.ts" />
import {
  XmlBufferInputProvider,
  XmlDocument,
  XsdValidator,
  xmlRegisterInputProvider,
} from "libxml2-wasm";
// Text imports are inlined by `bun build --compile`, so the binary needs no schema files
// on disk. (libxml2-wasm itself needs nothing extra either: its .wasm is inlined in
// lib/libxml2raw.mjs; compiled-binary.test.ts checks both.)
import activitiesXsd from "./schema/iati-activities-schema.xsd" with { type: "text" };
import commonXsd from "./schema/iati-common.xsd" with { type: "text" };
import xmlNamespaceXsd from "./schema/xml.xsd" with { type: "text" };

/**
 * A private URI scheme for the embedded schemas. The activities schema is parsed with a
 * base URL under it, so its relative `schemaLocation="iati-common.xsd"` and
 * `"xml.xsd"` resolve to these names, which our in-memory provider answers; nothing is
 * read from disk or the network.
 */
const SCHEMA_BASE = "iati-schema:///2.03/";

let activitiesValidator: XsdValidator | null = null;

/**
 * The IATI 2.03 activities schema, compiled once and kept for the life of the process
 * (it is small and validation is synchronous, so sharing it is safe).
 */
export function activitiesSchemaValidator(): XsdValidator {
  if (activitiesValidator !== null) return activitiesValidator;

  const encoder = new TextEncoder();
  // Registered globally by libxml2 and never removed: other code may register its own
  // providers; ours only answers the names below.
  xmlRegisterInputProvider(
    new XmlBufferInputProvider({
      [`${SCHEMA_BASE}iati-common.xsd`]: encoder.encode(commonXsd),
      [`${SCHEMA_BASE}xml.xsd`]: encoder.encode(xmlNamespaceXsd),
    }),
  );
  // The schema document must outlive the validator built from it, so it is never disposed.
  const schemaDoc = XmlDocument.fromString(activitiesXsd, { url: `${SCHEMA_BASE}iati-activities-schema.xsd` });
  activitiesValidator = XsdValidator.fromDoc(schemaDoc);
  return activitiesValidator;
}
