//! `services.api.cors`: cross-origin requests from browsers (web components on a customer's
//! site), with Regula's keys and defaults. The server's `cors` module applies it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `services.api.cors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Cors {
    /// False: no CORS header is sent and preflights are not answered.
    pub enabled: bool,
    /// Origins allowed (`https://shop.example.com`); `*` allows any.
    pub origins: List,
    /// Methods a preflight allows; `*`: every method of the API.
    pub methods: List,
    /// Request headers a preflight allows; `*`: whatever the browser asks for.
    pub headers: List,
    /// Seconds a browser may keep a preflight's answer (0: it asks every time).
    pub max_age: u64,
}

impl Default for Cors {
    fn default() -> Self {
        Self {
            enabled: false,
            origins: List::any(),
            methods: List::any(),
            headers: List::any(),
            max_age: 0,
        }
    }
}

impl Cors {
    /// Checks the values; the error names the key and what to change.
    pub fn validate(&self) -> Result<(), String> {
        for (key, list) in [
            ("origins", &self.origins),
            ("methods", &self.methods),
            ("headers", &self.headers),
        ] {
            if list.0.is_empty() {
                return Err(format!(
                    "bad value for `services.api.cors.{key}`: empty; give `*` or a list"
                ));
            }
            if let Some(bad) = list
                .0
                .iter()
                .find(|v| v.chars().any(|c| c.is_control() || c.is_whitespace()))
            {
                return Err(format!(
                    "bad value for `services.api.cors.{key}`: `{bad}` holds a space or a control character"
                ));
            }
        }
        for origin in &self.origins.0 {
            if origin != "*"
                && !(origin.starts_with("http://") || origin.starts_with("https://"))
                && origin != "null"
            {
                return Err(format!(
                    "bad value for `services.api.cors.origins`: `{origin}` is not an origin such as https://shop.example.com (or `*`)"
                ));
            }
        }
        Ok(())
    }
}

/// A list written as a comma-separated string (`"GET, POST"`) or a YAML list; written back as
/// the comma-separated string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List(pub Vec<String>);

impl List {
    /// `*`.
    pub fn any() -> Self {
        List(vec!["*".into()])
    }

    /// True when the list holds `*`.
    pub fn is_any(&self) -> bool {
        self.0.iter().any(|v| v == "*")
    }

    fn of(items: impl IntoIterator<Item = String>) -> Self {
        List(
            items
                .into_iter()
                .flat_map(|s| {
                    s.split(',')
                        .map(|p| p.trim().to_string())
                        .collect::<Vec<_>>()
                })
                .filter(|s| !s.is_empty())
                .collect(),
        )
    }
}

impl Serialize for List {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.join(","))
    }
}

impl<'de> Deserialize<'de> for List {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(List::of([s])),
            Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(serde::de::Error::custom(format!(
                        "`{other}` is not text; give a comma-separated string or a list of strings"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(List::of),
            _ => Err(serde::de::Error::custom(
                "give a comma-separated string or a list of strings",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_text_or_yaml_lists() {
        let c: Cors = serde_json::from_value(serde_json::json!({
            "enabled": true,
            "origins": "https://a.example, https://b.example",
            "methods": ["GET", "POST,PUT"],
            "maxAge": 600
        }))
        .unwrap();
        assert_eq!(
            c.origins.0,
            vec!["https://a.example".to_string(), "https://b.example".into()]
        );
        assert_eq!(c.methods.0, vec!["GET", "POST", "PUT"]);
        assert!(c.headers.is_any());
        assert_eq!(c.max_age, 600);
        c.validate().unwrap();
        assert_eq!(
            serde_json::to_value(&c.origins).unwrap(),
            "https://a.example,https://b.example"
        );
        assert!(serde_json::from_value::<Cors>(serde_json::json!({"origins": 5})).is_err());
        let bad: Cors = serde_json::from_value(serde_json::json!({"origins": "shop"})).unwrap();
        assert!(bad.validate().unwrap_err().contains("cors.origins"));
        let empty: Cors = serde_json::from_value(serde_json::json!({"headers": ""})).unwrap();
        assert!(empty.validate().unwrap_err().contains("cors.headers"));
    }
}
