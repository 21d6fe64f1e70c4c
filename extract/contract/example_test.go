package contract_test

import (
	"fmt"
	"os"

	"github.com/stranglerfig/strangler/extract/contract"
)

func ExampleCheck() {
	old, err := contract.Parse("observed.yaml", []byte(`
openapi: 3.1.0
info: {title: shop, version: observed}
paths:
  /api/orders/{id}:
    get:
      responses:
        "200":
          description: OK
          content:
            application/json:
              schema:
                type: object
                required: [id, total]
                properties:
                  id: {type: integer}
                  total: {type: string, pattern: '^-?[0-9]+\.[0-9]{2}$'}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	next, err := contract.Parse("new.yaml", []byte(`
openapi: 3.1.0
info: {title: shop, version: "2"}
paths:
  /api/orders/{orderId}:
    get:
      responses:
        "200":
          description: OK
          content:
            application/json:
              schema:
                type: object
                required: [id]
                properties:
                  id: {type: integer}
                  total: {type: number}
                  currency: {type: string}
  /api/orders:
    get:
      responses:
        "200": {description: OK}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	rep := contract.Check(old, next)
	_ = rep.WriteText(os.Stdout)
	fmt.Println("breaking:", rep.HasBreaking())
	// Output:
	// breaking  GET /api/orders/{id}  200 $.total: always present before, now optional
	// breaking  GET /api/orders/{id}  200 $.total: type string -> number
	// info      GET /api/orders/{id}  200 $.currency: optional field added
	// info      GET /api/orders  endpoint added
	// breaking: true
}
