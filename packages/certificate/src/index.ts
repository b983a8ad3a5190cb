export * from "./types.js";
export { canonicalBytes, canonicalJson } from "./canonical.js";
export { loadPrivateKey, loadPublicKey, publicKeyFingerprint, signCertificate, verifyCertificate, verifyCertificateText, type VerifyResult } from "./signature.js";
export { escapeHtml, renderHtml } from "./html.js";
export { hashTable, tableExists, tableHashSql, type HashedTable } from "./table-hash.js";
export { hostPort, readIdentity } from "./identity.js";
export { configFingerprint, urlWithoutPassword, withoutSecrets } from "./fingerprint.js";
export { gatherCertificate, hashTargetTables, recheckTarget, type GatherOptions, type RecheckDifference } from "./gather.js";
export { cutoverProblems, SETTLED_SEQUENCE_ACTIONS } from "./cutover-claims.js";
