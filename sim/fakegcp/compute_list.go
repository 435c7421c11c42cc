package fakegcp

import (
	"encoding/base64"
	"sort"
	"strconv"
	"strings"
)

const maxPageSize = 500

// listResponse filters, orders and pages items as Compute's list methods do
// and wraps them in a list object. Items are ordered by name when byName is
// set (operations keep their start order), then by orderBy if given.
func (s *Server) listResponse(c *apiCall, listKind, idPath string, items []map[string]any, byName bool) (any, *APIError) {
	f, err := parseFilter(c.query.Get("filter"))
	if err != nil {
		return nil, errInvalidField("filter", c.query.Get("filter"), "Invalid list filter expression: "+err.Error())
	}
	var kept []map[string]any
	for _, it := range items {
		if f == nil || f.match(it) {
			kept = append(kept, it)
		}
	}
	if byName {
		sort.SliceStable(kept, func(i, j int) bool { return str(kept[i], "name") < str(kept[j], "name") })
	}
	if apiErr := applyOrderBy(c.query.Get("orderBy"), kept); apiErr != nil {
		return nil, apiErr
	}
	page, next, apiErr := paginate(c, kept)
	if apiErr != nil {
		return nil, apiErr
	}
	resp := map[string]any{"kind": listKind, "id": idPath, "selfLink": computeBase + idPath}
	if len(page) > 0 {
		resp["items"] = page
	}
	if next != "" {
		resp["nextPageToken"] = next
	}
	return resp, nil
}

// verbListResponse is listResponse for the list a custom method answers
// (listNetworkEndpoints, listInstances), which carries no selfLink.
func (s *Server) verbListResponse(c *apiCall, listKind, idPath string, items []map[string]any) (any, *APIError) {
	resp, err := s.listResponse(c, listKind, idPath, items, false)
	if m, ok := resp.(map[string]any); ok {
		delete(m, "selfLink")
	}
	return resp, err
}

func applyOrderBy(orderBy string, items []map[string]any) *APIError {
	if orderBy == "" {
		return nil
	}
	field, desc := strings.CutSuffix(strings.TrimSpace(orderBy), " desc")
	field = strings.TrimSpace(field)
	if field != "name" && field != "creationTimestamp" {
		return errInvalidField("orderBy", orderBy, "Only 'name' and 'creationTimestamp desc' are supported.")
	}
	sort.SliceStable(items, func(i, j int) bool {
		if desc {
			return str(items[i], field) > str(items[j], field)
		}
		return str(items[i], field) < str(items[j], field)
	})
	return nil
}

// paginate cuts one page; the token is an opaque offset.
func paginate(c *apiCall, items []map[string]any) ([]map[string]any, string, *APIError) {
	size := maxPageSize
	if v := c.query.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, "", errInvalidField("maxResults", v, "Must be between 0 and 500.")
		}
		if n > 0 && n < maxPageSize {
			size = n
		}
	}
	offset := 0
	if tok := c.query.Get("pageToken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		n, convErr := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		if err != nil || convErr != nil || n < 0 || !strings.HasPrefix(string(raw), "offset:") {
			return nil, "", errInvalidField("pageToken", tok, "The page token is invalid.")
		}
		offset = n
	}
	if offset > len(items) {
		offset = len(items)
	}
	end := offset + size
	if end >= len(items) {
		return items[offset:], "", nil
	}
	return items[offset:end], base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end))), nil
}
