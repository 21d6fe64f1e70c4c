package recipes_test

import (
	"fmt"

	"github.com/stranglerfig/strangler/recipes"
)

func ExampleParse() {
	_, err := recipes.Parse("orders.yaml", []byte(`service: orders
resources:
  - name: order
    fields:
      - {name: id, type: integer, generated: true}
      - {name: total, type: money}
endpoints:
  - {method: GET, path: "/orders/{order_id}", resource: order, action: get}
`))
	fmt.Println(err)
	// Output:
	// orders.yaml:6: resources[0].fields[1].type: "money" is not one of string, integer, number, decimal, boolean, timestamp, date, uuid, json, time, bits, binary, set
}

func ExampleOpenAPI() {
	r, err := recipes.Parse("orders.yaml", []byte(`service: orders
resources:
  - name: order
    fields:
      - {name: id, type: integer, generated: true}
      - {name: total, type: decimal}
endpoints:
  - {method: GET, path: "/orders/{id}", resource: order, action: get}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	doc, _ := recipes.OpenAPI(r)
	fmt.Println(len(doc) > 0, r.Endpoints[0].Name)
	// Output: true getOrder
}
