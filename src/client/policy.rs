//! Client: the V1 calls on one global policy by id that a rename needs (issue 13):
//! `GET /policy/global/{id}` (the policy object, 000:27730-27788) and
//! `PUT /policy/global/{id}` ("Update the specified policy", 002:1401-1413; the body is
//! the global policy object, whose `policyKey` is "the unique name of the policy",
//! 002:743). Both go through the one [`Client::send`] path; PUT is idempotent, so its
//! retries are safe.

use reqwest::Method;
use serde_json::Value;

use super::{Client, Error, Request};
use crate::object::ObjectKey;

impl Client {
    /// `GET /policy/global/{id}`.
    ///
    /// # Errors
    /// Any [`Error`]; an unknown id is a 404.
    pub async fn get_policy(&self, key: &ObjectKey, id: u64) -> Result<Value, Error> {
        self.send(Request {
            method: Method::GET,
            endpoint: "GET /policy/global/{id}",
            path: format!("/policy/global/{id}"),
            query: Vec::new(),
            body: None,
            key: Some(key),
            paced: false,
        })
        .await
    }

    /// `PUT /policy/global/{id}` with a whole V1 policy object.
    ///
    /// # Errors
    /// Any [`Error`]; 4xx answers carry Immuta's message.
    pub async fn put_policy(&self, key: &ObjectKey, id: u64, body: &Value) -> Result<Value, Error> {
        self.send(Request {
            method: Method::PUT,
            endpoint: "PUT /policy/global/{id}",
            path: format!("/policy/global/{id}"),
            query: Vec::new(),
            body: Some(body),
            key: Some(key),
            paced: false,
        })
        .await
    }
}
