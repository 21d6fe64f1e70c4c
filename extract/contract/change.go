package contract

import (
	"fmt"
	"io"
	"strings"
)

// Severity says whether a change breaks a client of the contract side.
type Severity string

const (
	Breaking Severity = "breaking"
	Info     Severity = "info" // a compatible change
)

// Kind names a change. The kinds are part of the JSON output of
// strangler contract check; docs/contract.md lists what each means.
type Kind string

const (
	EndpointRemoved   Kind = "endpoint_removed"
	EndpointAdded     Kind = "endpoint_added"
	ParameterRemoved  Kind = "parameter_removed"
	ParameterAdded    Kind = "parameter_added"
	BecameRequired    Kind = "became_required" // a request input, or a response field (compatible there)
	BecameOptional    Kind = "became_optional" // a response field, or a request input (compatible there)
	BodyRemoved       Kind = "body_removed"
	BodyAdded         Kind = "body_added"
	ResponseRemoved   Kind = "response_removed"
	ResponseAdded     Kind = "response_added"
	MediaTypeRemoved  Kind = "media_type_removed"
	MediaTypeAdded    Kind = "media_type_added"
	FieldRemoved      Kind = "field_removed"
	FieldAdded        Kind = "field_added"
	FieldsUndescribed Kind = "fields_undescribed" // the new side describes no fields of an object
	TypeChanged       Kind = "type_changed"
	FormatChanged     Kind = "format_changed"
	BecameNullable    Kind = "became_nullable"
	BecameNonNullable Kind = "became_non_nullable"
	EnumMemberRemoved Kind = "enum_member_removed"
	EnumMemberAdded   Kind = "enum_member_added"
	EnumAdded         Kind = "enum_added"   // the new side restricts to a list
	EnumRemoved       Kind = "enum_removed" // the new side no longer restricts to a list
)

// Change is one difference from the contract side to the new side.
type Change struct {
	Severity Severity `json:"severity"`
	Kind     Kind     `json:"kind"`
	// Method and Path name the endpoint, as the contract side writes it
	// (the new side's for an added endpoint); NewPath is the new side's
	// template when its variables are named otherwise.
	Method  string `json:"method"`
	Path    string `json:"path"`
	NewPath string `json:"new_path,omitempty"`
	// In is where the change is: endpoint, path, query, header, cookie
	// (parameters), request (the request body) or response.
	In string `json:"in"`
	// Status is the answer's status code (response only): "200", "4XX",
	// "default".
	Status string `json:"status,omitempty"`
	// Name is the parameter's name (parameters) or the media type (a
	// media_type change).
	Name string `json:"name,omitempty"`
	// Pointer is where in the body, as a JSONPath: $ is the body,
	// $.data.total a field, $.items[*] the items of an array. Parameters
	// have $ for their value.
	Pointer string `json:"pointer,omitempty"`
	// Old and New are the values that changed, as text (types, formats,
	// enum members), when there are such values.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// Message says what changed, in words.
	Message string `json:"message"`
}

// String is the change as one line of text:
//
//	breaking  GET /api/orders/{id}  200 $.data.total: type string -> number
func (c Change) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s  %s %s  ", c.Severity, c.Method, c.Path)
	where := c.where()
	if where != "" {
		b.WriteString(where + ": ")
	}
	b.WriteString(c.Message)
	return b.String()
}

// where is the change's place in text: "200 $.data.total", "request
// $.customerId", "query status", "404 application/problem+json".
func (c Change) where() string {
	var parts []string
	switch c.In {
	case "endpoint":
		return ""
	case "response":
		parts = append(parts, c.Status)
	case "request":
		parts = append(parts, "request")
	default:
		parts = append(parts, c.In, c.Name)
	}
	if (c.In == "response" || c.In == "request") && c.Name != "" && c.Pointer == "" {
		parts = append(parts, c.Name)
	}
	if c.Pointer != "" && (c.In == "response" || c.In == "request" || c.Pointer != "$") {
		parts = append(parts, c.Pointer)
	}
	return strings.Join(parts, " ")
}

// Report is the result of a check.
type Report struct {
	// Contract and New name the two sides (their files).
	Contract string `json:"contract"`
	New      string `json:"new"`
	// Breaking and Info count the changes of each severity.
	Breaking int `json:"breaking"`
	Info     int `json:"info"`
	// Changes are every change found, in the order of the contract's
	// paths (sorted), methods, parameters, request body and answers; the
	// endpoints only the new side has come last.
	Changes []Change `json:"changes"`
}

// HasBreaking says whether any change breaks a client.
func (r *Report) HasBreaking() bool { return r.Breaking > 0 }

// WriteText writes one line per change.
func (r *Report) WriteText(w io.Writer) error {
	for _, c := range r.Changes {
		if _, err := fmt.Fprintln(w, c.String()); err != nil {
			return err
		}
	}
	return nil
}
