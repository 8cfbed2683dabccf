//! XML-RPC, as far as Koji needs it: building a `methodCall` and reading a `methodResponse`
//! (values, structs, arrays, faults) into JSON values, with quick-xml.
//!
//! Written here because the XML-RPC crates on crates.io are synchronous clients with their
//! own HTTP stack; Koji's calls must go through our polite HTTP layer.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Value};

/// An XML-RPC parameter.
#[derive(Debug, Clone)]
pub enum Param {
    Str(String),
    Int(i64),
    Bool(bool),
    /// Keyword arguments, as Koji takes them (a struct with `__starstar`).
    Kwargs(Vec<(String, Param)>),
    Array(Vec<Param>),
    Struct(Vec<(String, Param)>),
}

fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

fn write_param(out: &mut String, p: &Param) {
    out.push_str("<value>");
    match p {
        Param::Str(s) => {
            out.push_str("<string>");
            out.push_str(&escape(s));
            out.push_str("</string>");
        }
        Param::Int(i) => out.push_str(&format!("<int>{i}</int>")),
        Param::Bool(b) => out.push_str(&format!("<boolean>{}</boolean>", u8::from(*b))),
        Param::Array(items) => {
            out.push_str("<array><data>");
            for i in items {
                write_param(out, i);
            }
            out.push_str("</data></array>");
        }
        Param::Struct(members) | Param::Kwargs(members) => {
            out.push_str("<struct>");
            if matches!(p, Param::Kwargs(_)) {
                out.push_str(
                    "<member><name>__starstar</name><value><boolean>1</boolean></value></member>",
                );
            }
            for (k, v) in members {
                out.push_str("<member><name>");
                out.push_str(&escape(k));
                out.push_str("</name>");
                write_param(out, v);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
    }
    out.push_str("</value>");
}

/// A `methodCall` document.
/// A Koji `multiCall` of `calls` (method, its parameters): many calls, one request.
pub fn multi_call(calls: Vec<(&str, Vec<Param>)>) -> String {
    let calls: Vec<Param> = calls
        .into_iter()
        .map(|(method, params)| {
            Param::Struct(vec![
                ("methodName".into(), Param::Str(method.to_string())),
                ("params".into(), Param::Array(params)),
            ])
        })
        .collect();
    method_call("multiCall", &[Param::Array(calls)])
}

pub fn method_call(method: &str, params: &[Param]) -> String {
    let mut out = String::from("<?xml version='1.0'?>\n<methodCall>\n<methodName>");
    out.push_str(&escape(method));
    out.push_str("</methodName>\n<params>\n");
    for p in params {
        out.push_str("<param>");
        write_param(&mut out, p);
        out.push_str("</param>\n");
    }
    out.push_str("</params>\n</methodCall>\n");
    out
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum XmlRpcError {
    #[error("malformed XML-RPC response: {0}")]
    Malformed(String),
    #[error("XML-RPC fault {code}: {message}")]
    Fault { code: i64, message: String },
}

/// Reads a `methodResponse`: its one value, or the fault.
///
/// # Errors
/// Malformed XML, an unexpected element, or a `<fault>`.
pub fn parse_response(xml: &[u8]) -> Result<Value, XmlRpcError> {
    let mut reader = Reader::from_reader(xml);
    // No trimming: a string's spaces around `&amp;` are part of it.
    let mut buf = Vec::new();
    let mut fault = false;
    loop {
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| XmlRpcError::Malformed(e.to_string()))?
        {
            Event::Start(e) if e.name().0 == "fault" => fault = true,
            Event::Start(e) if e.name().0 == "value" => {
                let v = read_value(&mut reader, 0)?;
                if fault {
                    let code = v.get("faultCode").and_then(Value::as_i64).unwrap_or(0);
                    let message = v
                        .get("faultString")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    return Err(XmlRpcError::Fault { code, message });
                }
                return Ok(v);
            }
            Event::Eof => return Err(XmlRpcError::Malformed("no value in the response".into())),
            _ => {}
        }
        buf.clear();
    }
}

/// Values nest; a hostile document must not overflow the stack.
const MAX_DEPTH: usize = 64;

/// Reads the content of a `<value>` whose start tag was just read, through its end tag.
fn read_value(reader: &mut Reader<&[u8]>, depth: usize) -> Result<Value, XmlRpcError> {
    if depth > MAX_DEPTH {
        return Err(XmlRpcError::Malformed("values nested too deeply".into()));
    }
    let mut buf = Vec::new();
    let mut result: Option<Value> = None;
    let mut text = String::new();
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| XmlRpcError::Malformed(e.to_string()))?;
        match ev {
            Event::Start(e) => {
                let name = e.name().0.to_string();
                result = Some(match name.as_str() {
                    "struct" => read_struct(reader, depth)?,
                    "array" => read_array(reader, depth)?,
                    "nil" => {
                        skip_to_end(reader, "nil")?;
                        Value::Null
                    }
                    other => {
                        let t = read_text(reader, other)?;
                        scalar(other, &t)?
                    }
                });
            }
            Event::Empty(e) => {
                result = Some(match e.name().0 {
                    "nil" => Value::Null,
                    "string" => Value::String(String::new()),
                    "array" => Value::Array(Vec::new()),
                    "struct" => Value::Object(Map::new()),
                    _ => Value::Null,
                });
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => text.push_str(&resolve_ref(&r)?),
            Event::End(e) if e.name().0 == "value" => {
                // A value with no type element is a string.
                return Ok(result.unwrap_or(Value::String(text)));
            }
            Event::Eof => {
                return Err(XmlRpcError::Malformed(
                    "the document ends inside a value".into(),
                ));
            }
            _ => {}
        }
        buf.clear();
    }
}

fn resolve_ref(r: &quick_xml::events::BytesRef<'_>) -> Result<String, XmlRpcError> {
    if let Some(c) = r
        .resolve_char_ref()
        .map_err(|e| XmlRpcError::Malformed(e.to_string()))?
    {
        return Ok(c.to_string());
    }
    let name = r.clone().into_inner();
    quick_xml::escape::resolve_xml_entity(&name)
        .map(str::to_string)
        .ok_or_else(|| XmlRpcError::Malformed(format!("unknown entity &{name};")))
}

fn read_text(reader: &mut Reader<&[u8]>, end: &str) -> Result<String, XmlRpcError> {
    let mut buf = Vec::new();
    let mut text = String::new();
    loop {
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| XmlRpcError::Malformed(e.to_string()))?
        {
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.into_inner()),
            Event::GeneralRef(r) => text.push_str(&resolve_ref(&r)?),
            Event::End(e) if e.name().0 == end => return Ok(text),
            Event::Eof => {
                return Err(XmlRpcError::Malformed(
                    "the document ends inside a value".into(),
                ));
            }
            _ => {}
        }
        buf.clear();
    }
}

fn skip_to_end(reader: &mut Reader<&[u8]>, end: &str) -> Result<(), XmlRpcError> {
    read_text(reader, end).map(|_| ())
}

fn scalar(kind: &str, t: &str) -> Result<Value, XmlRpcError> {
    let bad = || XmlRpcError::Malformed(format!("bad {} `{t}`", kind));
    Ok(match kind {
        "string" | "dateTime.iso8601" | "base64" => Value::String(t.to_string()),
        "int" | "i4" | "i8" => Value::from(t.trim().parse::<i64>().map_err(|_| bad())?),
        "boolean" => Value::Bool(t.trim() == "1"),
        "double" => serde_json::Number::from_f64(t.trim().parse::<f64>().map_err(|_| bad())?)
            .map(Value::Number)
            .ok_or_else(bad)?,
        other => return Err(XmlRpcError::Malformed(format!("unknown type <{}>", other))),
    })
}

fn read_struct(reader: &mut Reader<&[u8]>, depth: usize) -> Result<Value, XmlRpcError> {
    let mut buf = Vec::new();
    let mut map = Map::new();
    let mut name = String::new();
    loop {
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| XmlRpcError::Malformed(e.to_string()))?
        {
            Event::Start(e) if e.name().0 == "name" => name = read_text(reader, "name")?,
            Event::Start(e) if e.name().0 == "value" => {
                let v = read_value(reader, depth + 1)?;
                map.insert(std::mem::take(&mut name), v);
            }
            Event::End(e) if e.name().0 == "struct" => return Ok(Value::Object(map)),
            Event::Eof => {
                return Err(XmlRpcError::Malformed(
                    "the document ends inside a struct".into(),
                ));
            }
            _ => {}
        }
        buf.clear();
    }
}

fn read_array(reader: &mut Reader<&[u8]>, depth: usize) -> Result<Value, XmlRpcError> {
    let mut buf = Vec::new();
    let mut items = Vec::new();
    loop {
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| XmlRpcError::Malformed(e.to_string()))?
        {
            Event::Start(e) if e.name().0 == "value" => items.push(read_value(reader, depth + 1)?),
            Event::End(e) if e.name().0 == "array" => return Ok(Value::Array(items)),
            Event::Eof => {
                return Err(XmlRpcError::Malformed(
                    "the document ends inside an array".into(),
                ));
            }
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_responses_round_trip() {
        let call = method_call(
            "getLatestBuilds",
            &[
                Param::Str("c9s-candidate".into()),
                Param::Kwargs(vec![("package".into(), Param::Str("a&b".into()))]),
            ],
        );
        assert!(call.contains("<name>__starstar</name><value><boolean>1</boolean></value>"));
        assert!(call.contains("<string>a&amp;b</string>"));
        let v = parse_response(
            b"<methodResponse><params><param><value><array><data><value><struct><member><name>nvr</name>\
              <value><string>x-1-1</string></value></member><member><name>epoch</name><value><nil/></value></member>\
              <member><name>n</name><value>plain &amp; text</value></member></struct></value></data></array></value>\
              </param></params></methodResponse>",
        )
        .expect("parse");
        assert_eq!(v[0]["nvr"], "x-1-1");
        assert_eq!(v[0]["epoch"], Value::Null);
        assert_eq!(v[0]["n"], "plain & text");
        let f = parse_response(
            b"<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1000</int></value></member>\
              <member><name>faultString</name><value><string>No such tag</string></value></member></struct></value></fault></methodResponse>",
        );
        assert_eq!(
            f,
            Err(XmlRpcError::Fault {
                code: 1000,
                message: "No such tag".into()
            })
        );
        let deep = format!(
            "<methodResponse><params><param>{}</param></params></methodResponse>",
            "<value><array><data>".repeat(200)
        );
        assert!(parse_response(deep.as_bytes()).is_err());
        assert!(parse_response(b"<html>").is_err());
    }
}
