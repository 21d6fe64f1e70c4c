package proxy

import (
	"net/http"
	"strings"
)

// routeIndex finds the first route, in project-file order, that matches a
// request without scanning every route: routes hang in a trie under their
// leading literal path segments, and only the routes on the request path's
// branch of the trie are checked, each with gorilla/mux's own matcher.
//
// The answer is the same as mux's linear scan (FuzzRouteMatch checks it):
// a route whose template starts with literal segments can only match paths
// that start with the same segments.
type routeIndex struct {
	routes []*route
	root   *indexNode
}

type indexNode struct {
	routes   []int // indexes into routeIndex.routes, ascending
	children map[string]*indexNode
}

func buildIndex(routes []*route) *routeIndex {
	ix := &routeIndex{routes: routes, root: &indexNode{}}
	for i, rt := range routes {
		n := ix.root
		for _, seg := range rt.matcher.literals {
			if n.children == nil {
				n.children = map[string]*indexNode{}
			}
			c := n.children[seg]
			if c == nil {
				c = &indexNode{}
				n.children[seg] = c
			}
			n = c
		}
		n.routes = append(n.routes, i)
	}
	return ix
}

// match returns the index of the first matching route, or -1 when no route
// matches.
func (ix *routeIndex) match(req *http.Request) int {
	best := -1
	n := ix.root
	rest, more := strings.CutPrefix(req.URL.Path, "/")
	for {
		for _, i := range n.routes {
			if best >= 0 && i > best {
				break
			}
			if ix.routes[i].matcher.match(req) {
				best = i
				break
			}
		}
		if n.children == nil || !more {
			return best
		}
		var seg string
		seg, rest, more = strings.Cut(rest, "/")
		if n = n.children[seg]; n == nil {
			return best
		}
	}
}
