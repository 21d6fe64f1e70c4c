// Package contract is the legacy API's contract: Infer writes the OpenAPI
// 3.1 document of the API as captured traffic shows it (paths, methods,
// parameters, bodies and answers with JSON Schemas inferred from the
// samples), and Check lists the changes from one document to another (an
// inferred contract, an OpenAPI file, or a recipe's document) and which of
// them break a client. It is a library of pure functions over capture
// records and documents: reading files is LoadFile's and the CLI's.
//
// docs/contract.md is the reference of both, and of the JSON the CLI
// writes.
package contract
