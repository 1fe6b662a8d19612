// Package docs embeds the documents the server serves itself.
package docs

import _ "embed"

// AdminOpenAPI is the OpenAPI 3 description of the admin API, served at
// /admin/v1/openapi.json.
//
//go:embed admin-openapi.json
var AdminOpenAPI []byte
