/** Reads fixture input files: source documents as the Jushuitan API returns them (shared with the HTTP preview). */
export { sourceDocuments } from "../../shared/flow/source-documents.ts";
