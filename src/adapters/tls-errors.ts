/** Errors of a TLS connection whose certificate does not chain to a trusted CA (Bun's and Node's codes and words), for Postgres and Elasticsearch alike. */
export function isCertificateError(codeOrText: string | undefined): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|certificate/i.test(codeOrText ?? "");
}
