//! Emulator: the V1 views of a data source, the list hit of `GET /dataSource` and the
//! object of `GET /dataSource/{id}`, rendered from the documented examples (each cites
//! its seed lines). Reads only; never mutates the store.

use serde_json::{json, Value};

use super::{connection_string, str_at, SourceRec};
use crate::store::Store;

impl Store {
    /// The V1 list hit of a data source (001:312-375).
    pub fn source_hit(&self, s: &SourceRec) -> Value {
        let conn = self.connections.get(&s.key);
        let handler = conn
            .and_then(|c| str_at(&c.raw, &["connection", "handler"]))
            .unwrap_or("");
        let cs = conn.map(|c| connection_string(&c.raw));
        json!({
            "name": s.name, "id": s.id, "recordFormat": "Not Provided", "deleted": s.disabled,
            "description": s.entry.get("description"), "createdAt": s.created_at,
            "subscriptionPolicy": null, "schemaEvolutionId": conn.map(|c| c.evolution_id),
            "recordCount": 0, "status": "passed", "subscriptionStatus": "owner",
            "blobHandlerType": handler, "subscriptionType": "manual", "connectionString": cs,
            "sqlSchemaName": s.sql_schema, "remoteTable": s.table, "remoteSchema": s.schema,
            // 001:312-375 lists `domainId`/`domainName`; the id is the connection's
            // `options.domainCollectionId` (000:15473-15475). No domain store: no name.
            "domainId": conn.and_then(|c| c.raw.get("options")).and_then(|o| o.get("domainCollectionId")),
            "domainName": null, "policy": "None", "policyHandlerType": "None",
            "native": null, "workspace": null,
        })
    }

    /// The V1 object of `GET /dataSource/{id}` (001:482-527).
    pub fn source_v1(&self, s: &SourceRec) -> Value {
        let conn = self.connections.get(&s.key);
        let handler = conn
            .and_then(|c| str_at(&c.raw, &["connection", "handler"]))
            .unwrap_or("");
        let documentation = s
            .entry
            .get("documentation")
            .cloned()
            .unwrap_or_else(|| json!(format!("# {}", s.name)));
        json!({
            "name": s.name, "recordFormat": "Not Provided", "description": s.entry.get("description"),
            "policyHandler": null, "sqlSchemaName": s.sql_schema, "sqlTableName": s.sql_table,
            "blobHandler": {"url": format!("/{}/handler/{}", handler.to_lowercase().replace(' ', ""), s.id),
                "ca": {"name": "Certificate Authority Bundle"}, "manualDictionary": false},
            "createdBy": 2, "deleted": s.disabled, "type": "queryable", "recordCount": 0, "rowCount": 0,
            "documentation": documentation, "statsExpiration": null, "id": s.id, "blobHandlerType": handler,
            "policyHandlerType": "None", "subscriptionType": "manual", "subscriptionPolicy": null,
            "globalPolicies": null, "status": "passed", "statusInfo": {"sql": {"status": "passed", "message": "Passed"}},
            "schemaEvolutionId": conn.map(|c| c.evolution_id), "columnEvolutionEnabled": true,
            "createdAt": s.created_at, "updatedAt": s.updated_at,
        })
    }
}
