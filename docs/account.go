package docs

import _ "embed"

// AccountOpenAPI is the OpenAPI 3 description of the account API, served
// at /api/account/openapi.json.
//
//go:embed account-openapi.json
var AccountOpenAPI []byte
