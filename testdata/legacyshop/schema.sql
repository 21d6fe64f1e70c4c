-- The example legacy shop's MariaDB schema, first release. The monolith's API
-- (legacyshop.go) answers from these tables; `strangler demo` syncs them to
-- PostgreSQL and serves them again from testdata/legacyshop/recipes/orders.yaml.
-- release2.sql adds the catalog, stock, order items, logins and sessions.
CREATE TABLE customers (
  id         INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name       VARCHAR(100) NOT NULL,
  email      VARCHAR(200) NOT NULL,
  vip        TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY customers_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE orders (
  id          INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_id INT NOT NULL,
  status      ENUM('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new',
  total       DECIMAL(12,2) NOT NULL,
  note        VARCHAR(500) NULL,
  placed_at   DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  KEY orders_customer (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
