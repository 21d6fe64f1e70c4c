// Package compare compares two HTTP answers to one request (legacy's and
// the new service's) by meaning, under rules, and lists the paths where
// they differ. It knows nothing of serving HTTP.
//
// # What is compared
//
// The status, the headers named in Rules.Headers (values joined with
// ", "), and the body. A body is JSON when either side's Content-Type is
// application/json or ends in +json, or when neither side declares a type
// and both parse; it is text when both sides declare text/* or are UTF-8;
// else binary. Byte-equal bodies are equal without being parsed.
//
// JSON is compared by meaning: member order and whitespace do not count;
// numbers compare by exact decimal value (1 = 1.0 = 1e0 = 10e-1, -0 = 0,
// and digits beyond float64 count); strings compare after unescaping
// (\u00e9 = é, a surrogate pair = the character; a lone surrogate equals
// only itself); a member name given twice keeps its last value. Arrays
// compare in order unless a set rule names them. A body that does not
// parse on one side is one diff at "body" (kind invalid); on both sides
// the bodies are compared as text. Containers nested deeper than
// Rules.MaxDepth are compared by their compact text, with no rule
// applying inside them.
//
// Text compares line by line ("\r\n" = "\n") after the normalize rules of
// the body; the first differing line is the one diff, at "body" (kind
// text). Binary bodies differ by SHA-256 (kind binary).
//
// # Paths
//
// A diff's path is "status", "header:Content-Type", "body", or a JSON path:
// "$" the root, ".name" a member whose name is ASCII letters, digits, '_'
// and '-', `["k y"]` any other (JSON-quoted), "[3]" an array index,
// "[id=42]" the element of a keyed set whose key is 42 (the key's
// canonical JSON: `[sku="A-1"]`), "[#3]" an element of a set matched with
// none (its index in its own array).
//
// Patterns (Rules.Ignore, Sets, Tolerance, Normalize.Path, and
// CompilePatterns) use the same syntax plus "[*]" (any element: index,
// keyed or unmatched), ".*" (any member) and "..name" (name at any depth
// below; also "..*", "..[*]"). A pattern covers what it matches and
// everything below it: "$.meta" covers "$.meta.request_id". The patterns
// "$" and "body" cover the whole body. A set rule applies only at the
// arrays its pattern matches exactly. Inside an unkeyed set, elements are
// matched as wholes, so only "[*]" (and "..") steps select parts of them.
//
// # Order
//
// Diffs are sorted by path: status, headers by name, then the body; JSON
// paths step by step, a value before what is below it, indexes by number,
// member names by bytes; at one level indexes, then keyed elements, then
// unmatched ones. Rules.MaxDiffs of them are listed and the rest counted
// in Result.More, so that comparing (a, b) and (b, a) list the same paths,
// with A and B swapped and missing and added exchanged.
package compare
