package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openapiDoc is the OpenAPI 3.1 description of the API, kept by hand;
// TestOpenAPIMatchesRoutes keeps it and the routes in step.
//
//go:embed openapi.json
var openapiDoc []byte

func (s *Server) openapiRoutes(g *gin.RouterGroup) {
	s.handlePublic(g, g.BasePath(), http.MethodGet, "/openapi.json", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.Data(http.StatusOK, "application/json", openapiDoc)
	})
}
