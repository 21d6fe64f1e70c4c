// Package samples reads captured legacy traffic (proxy/capture records) and
// says what a recipe needs: the endpoints (method, path template, path
// variables tied to answer keys, query parameters as filters, sorts and
// pages, action), and how answers are written (envelope, names and their
// casing, formats of decimals, times and booleans, nulls written or left
// out, pagination) as a recipes.Shape, with observations per field and
// notes where the samples are ambiguous or disagree.
//
// It is pure: Analyze takes records and returns values; it opens no
// database and serves nothing. The same records give the same result:
// every map is read in sorted order, and members keep the order answers
// write them in.
//
// # Path templates
//
// Paths are cut into segments (empty ones dropped) and read as a tree,
// level by level over all methods at once. At each level, after the same
// literal prefix, the values seen are split into literals and values of
// one variable:
//
//   - the first segment, and version segments (v1, v2.1), are literal;
//   - integers, UUIDs, hex strings of 8 or more characters holding a
//     digit, codes with a run of 3 or more digits (ABC-1234) and the
//     facade's [REDACTED] are variable;
//   - another value (a word such as recent, a slug such as blue-shirt) is
//     variable when a successful JSON answer to it holds it as a top-level
//     value of the object, or of a list's items (GET /products/blue-shirt
//     answering "slug": "blue-shirt"), and literal when successful answers
//     to it were looked at and none did (GET /orders/recent answering a
//     list of orders);
//   - a value without a successful JSON answer goes with the others at its
//     level: variable when another was found in its answer, unless it is
//     frequent (3 or more records and a quarter or more of the records
//     there); literal when others were looked at and not found; where no
//     answer at the level could be looked at, the values that are not
//     frequent are variable when there are 3 or more of them and at least
//     one per two records naming them (most seen once or twice).
//
// The variable values' subtrees are merged, so /customers/7/orders and
// /customers/8/orders make one template. A variable is tied to the answer
// member whose value equals the segment in at least 80% of the successful
// answers (id before other *_id members before the rest): a top-level
// member of an object answer, or a member equal in every item of a list.
// The last segment's variable is named after the member it is tied to, or
// id; another is named <singular>_id after the literal before it
// (customers/{customer_id}/orders), or after the member it is tied to when
// that is not id.
//
// # Answers
//
// Only successful (2xx) answers that are a JSON object or array are read;
// a gzip Content-Encoding is undone, truncated bodies are counted and
// left out. An object is an envelope when one member is named as data is
// (data, items, results, ..., or the collection's name: orders, order)
// and holds an object, an array or null, and every other member is a meta
// object (meta, pagination, ...) or a known side member (total, status,
// request_id, ...). Formats are read from the values as written: numbers
// keep their digits (12.50 has scale 2), times must be written back by
// their Go layout unchanged, and where day-first and month-first layouts
// both read every value, day-first is taken and noted.
package samples
