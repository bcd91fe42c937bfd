package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// decodeJSON reads the request body into dst: one JSON value, no unknown
// fields, no trailing data. Its errors name the offending field. It is used
// instead of gin's ShouldBindJSON because that one reports neither unknown
// fields nor the field of a type mismatch in a form a client can act on.
func decodeJSON(c *gin.Context, dst any) error {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if dec.More() {
			return errBadRequest("the body must hold exactly one JSON value")
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return errBadRequest("the body must hold exactly one JSON value")
		}
		return nil
	}
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		maxErr    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &maxErr):
		return err
	case errors.Is(err, io.EOF):
		return errBadRequest("the body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errBadRequest("the body is not well-formed JSON: it ends too early")
	case errors.As(err, &syntaxErr):
		return errBadRequest(fmt.Sprintf("the body is not well-formed JSON at byte %d", syntaxErr.Offset))
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "(body)"
		}
		return errValidation(FieldError{Field: field, Reason: "must be of JSON type " + jsonKind(typeErr.Type.Kind().String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for unknown fields.
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errValidation(FieldError{Field: name, Reason: "unknown field"})
	}
	return errBadRequest("the body could not be read")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	}
	return "number"
}
