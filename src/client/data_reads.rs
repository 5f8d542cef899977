//! The V1 reads of data sources (issue 13): the tenant-wide list, and the detail reads
//! of one data source (handler metadata, tags, owners, dictionary). Each is one call of
//! the client's `send()` or list reader, so concurrency, retries, limits and redaction
//! are the same as for every other call. Shapes and seed lines: docs/fidelity.md.

use reqwest::Method;
use serde_json::Value;

use super::{paging, Client, Error, Request};

impl Client {
    /// `GET /dataSource`, every page (001:59-375). The documentation prints the hits
    /// without a wrapper (001:312-375) and, elsewhere, as `{hits, facets, count}`
    /// (000:14421-14549); both are read.
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn list_data_sources(&self) -> Result<Vec<Value>, Error> {
        self.read_list(&paging::List {
            endpoint: "GET /dataSource",
            path: "/dataSource".into(),
            query: &[],
            envelope: paging::Envelope {
                bare: true,
                fields: &["hits"],
            },
        })
        .await
    }

    /// `GET /{handler}/handler/{handlerId}`: connection metadata (000:11216-11252).
    /// `handler` is the path segment (`snowflake`, 000:10296).
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn get_handler(&self, handler: &str, id: u64) -> Result<Value, Error> {
        self.get(
            "GET /{handler}/handler/{id}",
            format!("/{handler}/handler/{id}"),
            vec![],
        )
        .await
    }

    /// `GET /dataSource/{id}/tags` (000:44483-44497).
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn data_source_tags(&self, id: u64) -> Result<Value, Error> {
        self.get(
            "GET /dataSource/{id}/tags",
            format!("/dataSource/{id}/tags"),
            vec![],
        )
        .await
    }

    /// `GET /dataSource/{id}/access?states=owner`, every page of `{count, users}`
    /// (001:984-1145): the owners, users with their login name (`userid`) and IAM.
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn data_source_owners(&self, id: u64) -> Result<Vec<Value>, Error> {
        self.read_list(&paging::List {
            endpoint: "GET /dataSource/{id}/access",
            path: format!("/dataSource/{id}/access"),
            query: &[("states", "owner")],
            envelope: paging::Envelope {
                bare: false,
                fields: &["users"],
            },
        })
        .await
    }

    /// `GET /dictionary/{id}` (000:9420-9466, 000:10140-10192).
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn dictionary(&self, id: u64) -> Result<Value, Error> {
        self.get("GET /dictionary/{id}", format!("/dictionary/{id}"), vec![])
            .await
    }

    async fn get(
        &self,
        endpoint: &'static str,
        path: String,
        query: Vec<(&'static str, String)>,
    ) -> Result<Value, Error> {
        self.send(Request {
            method: Method::GET,
            endpoint,
            path,
            query,
            body: None,
            key: None,
            paced: false,
        })
        .await
    }
}
