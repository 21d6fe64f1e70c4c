package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/stranglerfig/strangler/proxy"

	"github.com/stranglerfig/strangler/internal/config"
)

// MaxAdminBody is the largest request body, in bytes, the admin API reads.
const MaxAdminBody = 64 << 10

// decodeStrict decodes one JSON object into v: unknown fields, trailing
// data and a body over MaxAdminBody are refused, errors name the field.
func decodeStrict(body []byte, v any) error {
	if len(body) > MaxAdminBody {
		return &FieldError{Msg: fmt.Sprintf("body is larger than %d bytes", MaxAdminBody)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(body, err)
	}
	if dec.More() {
		return &FieldError{Msg: "trailing data after the JSON object"}
	}
	var rest json.RawMessage
	if err := dec.Decode(&rest); err == nil {
		return &FieldError{Msg: "trailing data after the JSON object"}
	}
	return nil
}

// DecodeRouteChange decodes the body of POST /routes/{name} into a Change
// of that route. It checks what it can without the route table: the mode,
// the percent's range and that it goes with canary, the reason's length.
func DecodeRouteChange(name string, body []byte) (Change, error) {
	var req RouteChangeRequest
	if err := decodeStrict(body, &req); err != nil {
		return Change{}, err
	}
	if req.Mode == nil {
		return Change{}, &FieldError{Field: "mode", Msg: "is required (legacy, shadow, canary or new)"}
	}
	ch := Change{Routes: []string{name}, Mode: *req.Mode, Percent: req.Percent, Reason: req.Reason}
	if req.ExpectVersion != nil {
		if *req.ExpectVersion == 0 {
			return Change{}, &FieldError{Field: "expect_version", Msg: "must be at least 1 (version 0 is the project file before any change)"}
		}
		ch.ExpectVersion = *req.ExpectVersion
	}
	return ch, checkChange(ch)
}

// DecodeRollback decodes the body of POST /rollback into a Change to
// legacy.
func DecodeRollback(body []byte) (Change, error) {
	var req RollbackRequest
	if err := decodeStrict(body, &req); err != nil {
		return Change{}, err
	}
	return routesChange(Change{Routes: req.Routes, All: req.All, Mode: config.ModeLegacy, Reason: req.Reason}, req.ExpectVersion)
}

// DecodeReset decodes the body of POST /reset into a Change that drops the
// routes' overrides.
func DecodeReset(body []byte) (Change, error) {
	var req ResetRequest
	if err := decodeStrict(body, &req); err != nil {
		return Change{}, err
	}
	return routesChange(Change{Routes: req.Routes, All: req.All, Reset: true, Reason: req.Reason}, req.ExpectVersion)
}

// routesChange checks the parts rollback and reset share: the routes (or
// all) and the expected version.
func routesChange(ch Change, expect *uint64) (Change, error) {
	if expect != nil {
		if *expect == 0 {
			return Change{}, &FieldError{Field: "expect_version", Msg: "must be at least 1 (version 0 is the project file before any change)"}
		}
		ch.ExpectVersion = *expect
	}
	if ch.All && len(ch.Routes) > 0 {
		return Change{}, &FieldError{Field: "routes", Msg: "cannot be given together with all"}
	}
	if !ch.All && len(ch.Routes) == 0 {
		return Change{}, &FieldError{Field: "routes", Msg: "name at least one route, or set all"}
	}
	for i, n := range ch.Routes {
		if n == "" {
			return Change{}, &FieldError{Field: fmt.Sprintf("routes[%d]", i), Msg: "is empty"}
		}
	}
	return ch, checkChange(ch)
}

// checkChange is the part of the controller's validation that needs no
// route table.
func checkChange(ch Change) error {
	var c Controller
	c.file = map[string]proxy.RouteState{}
	for _, n := range ch.Routes {
		c.file[n] = proxy.RouteState{}
		c.order = append(c.order, n)
	}
	_, err := c.validate(ch)
	return err
}

// DecodeRolloutRequest decodes the body of POST /routes/{name}/pause,
// /resume or /promote; an empty body is a request without a reason.
func DecodeRolloutRequest(body []byte) (RolloutRequest, error) {
	var req RolloutRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	if err := decodeStrict(body, &req); err != nil {
		return RolloutRequest{}, err
	}
	return req, checkChange(Change{Routes: []string{"x"}, Mode: config.ModeLegacy, Reason: req.Reason})
}
