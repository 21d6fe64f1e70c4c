-- Release 2 of the example legacy shop: the catalog, its stock, the lines of
-- an order and the logins, added beside the tables of schema.sql (which stay
-- as they were). Migrate in legacyshop.go creates them; Create does not, so
-- that the demo and the extract tests see the two tables they migrate.
-- No foreign keys, as in release 1: the old code relates tables by name.
CREATE TABLE IF NOT EXISTS products (
  id         INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sku        VARCHAR(20) NOT NULL,
  name       VARCHAR(200) NOT NULL,
  price      DECIMAL(10,2) NOT NULL,
  active     TINYINT(1) NOT NULL DEFAULT 1,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY products_sku (sku)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per product; a product without a row has none in stock. The
-- application keeps quantity at zero or above (no CHECK constraint).
CREATE TABLE IF NOT EXISTS stock (
  product_id INT NOT NULL PRIMARY KEY,
  quantity   INT NOT NULL DEFAULT 0,
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The lines of an order, at the price of the day it was placed. Orders of
-- release 1 have none.
CREATE TABLE IF NOT EXISTS order_items (
  order_id   INT NOT NULL,
  product_id INT NOT NULL,
  quantity   INT NOT NULL,
  unit_price DECIMAL(10,2) NOT NULL,
  PRIMARY KEY (order_id, product_id),
  KEY order_items_product (product_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Passwords as unsalted SHA-1 hex, as the old code stored them.
CREATE TABLE IF NOT EXISTS customer_logins (
  customer_id   INT NOT NULL PRIMARY KEY,
  password_sha1 CHAR(40) NOT NULL,
  last_login_at DATETIME NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The shop_session cookie's value is the id, stored as it is.
CREATE TABLE IF NOT EXISTS sessions (
  id          CHAR(32) NOT NULL PRIMARY KEY,
  customer_id INT NOT NULL,
  created_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  expires_at  DATETIME NOT NULL,
  KEY sessions_customer (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
