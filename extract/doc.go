// Package extract reads the legacy schema (MySQL information_schema) and
// captured request/response samples and writes a recipe: resources,
// endpoints, the legacy response shape, the PostgreSQL DDL, the sync mapping
// and route entries in mode legacy.
package extract
