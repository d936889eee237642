//! `template.yaml` read as CloudFormation reads it: short-form intrinsics (`!Ref`, `!Sub`,
//! …) become their long form, and [`Resolver`] evaluates them against parameters,
//! conditions and the names the resources got. The local stack and the template checks
//! both read the template through this, so nothing about the deployment is written twice.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("reading {0}: {1}")]
    Read(String, std::io::Error),
    #[error("parsing the template: {0}")]
    Parse(String),
    #[error("{0}")]
    Invalid(String),
}

fn invalid(what: impl Into<String>) -> TemplateError {
    TemplateError::Invalid(what.into())
}

/// One resource of the template.
#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    pub kind: String,
    pub condition: Option<String>,
    pub properties: Value,
    pub metadata: Value,
}

/// The template, intrinsics in long form.
#[derive(Debug, Clone)]
pub struct Template {
    pub doc: Value,
}

impl Template {
    pub fn load(path: &Path) -> Result<Template, TemplateError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| TemplateError::Read(path.display().to_string(), e))?;
        Template::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| TemplateError::Parse(e.to_string()))?;
        Ok(Template { doc: long_form(yaml)? })
    }

    /// Every resource, in template order.
    pub fn resources(&self) -> Vec<Resource> {
        let Some(map) = self.doc["Resources"].as_object() else { return Vec::new() };
        map.iter()
            .map(|(id, r)| Resource {
                id: id.clone(),
                kind: r["Type"].as_str().unwrap_or_default().to_owned(),
                condition: r["Condition"].as_str().map(str::to_owned),
                properties: r.get("Properties").cloned().unwrap_or(Value::Null),
                metadata: r.get("Metadata").cloned().unwrap_or(Value::Null),
            })
            .collect()
    }

    pub fn resource(&self, id: &str) -> Option<Resource> {
        self.resources().into_iter().find(|r| r.id == id)
    }

    pub fn of_kind(&self, kind: &str) -> Vec<Resource> {
        self.resources().into_iter().filter(|r| r.kind == kind).collect()
    }

    /// Parameter defaults, as text (lists comma-joined, as CloudFormation takes them).
    pub fn parameter_defaults(&self) -> BTreeMap<String, String> {
        let Some(map) = self.doc["Parameters"].as_object() else { return BTreeMap::new() };
        map.iter()
            .filter_map(|(name, p)| {
                let default = match &p["Default"] {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((name.clone(), default))
            })
            .collect()
    }

    /// A function's environment as written: the `Globals` section's, then its own.
    pub fn function_environment(&self, function: &Resource) -> Map<String, Value> {
        let mut vars = self.doc["Globals"]["Function"]["Environment"]["Variables"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if let Some(own) = function.properties["Environment"]["Variables"].as_object() {
            vars.extend(own.clone());
        }
        vars
    }

    /// The cargo-lambda binary a function is built from (`Metadata.BuildProperties.Binary`).
    pub fn binary(function: &Resource) -> Option<&str> {
        function.metadata["BuildProperties"]["Binary"].as_str()
    }
}

/// YAML with CloudFormation tags → JSON with long-form intrinsics.
fn long_form(yaml: serde_yaml::Value) -> Result<Value, TemplateError> {
    use serde_yaml::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).map_err(|e| TemplateError::Parse(e.to_string()))?,
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(long_form).collect::<Result<_, _>>()?),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    other => serde_yaml::to_string(&other).unwrap_or_default().trim().to_owned(),
                };
                out.insert(key, long_form(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = long_form(tagged.value)?;
            match name {
                "Ref" | "Condition" => json!({ name: value }),
                // `!GetAtt A.B` is `Fn::GetAtt: [A, B]`.
                "GetAtt" => match value {
                    Value::String(s) => {
                        let (resource, attribute) = s
                            .split_once('.')
                            .ok_or_else(|| invalid(format!("!GetAtt {s}: expected Resource.Attribute")))?;
                        json!({ "Fn::GetAtt": [resource, attribute] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                _ => json!({ format!("Fn::{name}"): value }),
            }
        }
    })
}

/// What a resource is called once it exists, and its attributes.
#[derive(Debug, Clone, Default)]
pub struct Physical {
    /// The value of `!Ref`.
    pub reference: String,
    /// `!GetAtt` values by attribute name (`Arn`, `QueueName`, …).
    pub attributes: BTreeMap<String, String>,
}

/// Evaluates intrinsics: parameters, pseudo parameters, conditions, resources by name.
pub struct Resolver<'a> {
    template: &'a Template,
    pub stack: String,
    pub account: String,
    pub region: String,
    pub parameters: BTreeMap<String, String>,
    pub resources: BTreeMap<String, Physical>,
}

/// `AWS::NoValue`: the property is left out.
const NO_VALUE: &str = "AWS::NoValue";

impl<'a> Resolver<'a> {
    /// Defaults overridden by `parameters`.
    pub fn new(template: &'a Template, stack: &str, parameters: &BTreeMap<String, String>) -> Self {
        let mut all = template.parameter_defaults();
        all.extend(parameters.clone());
        Resolver {
            template,
            stack: stack.to_owned(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            parameters: all,
            resources: BTreeMap::new(),
        }
    }

    fn is_list_parameter(&self, name: &str) -> bool {
        self.template.doc["Parameters"][name]["Type"].as_str().is_some_and(|t| t.contains("List"))
    }

    fn pseudo(&self, name: &str) -> Option<String> {
        Some(match name {
            "AWS::StackName" => self.stack.clone(),
            "AWS::AccountId" => self.account.clone(),
            "AWS::Region" => self.region.clone(),
            "AWS::Partition" => "aws".into(),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            "AWS::StackId" => {
                format!("arn:aws:cloudformation:{}:{}:stack/{}/local", self.region, self.account, self.stack)
            }
            _ => return None,
        })
    }

    /// Whether the named condition holds.
    pub fn condition(&self, name: &str) -> Result<bool, TemplateError> {
        let expr = &self.template.doc["Conditions"][name];
        if expr.is_null() {
            return Err(invalid(format!("no condition {name}")));
        }
        self.truth(expr)
    }

    /// Whether a resource exists under these parameters.
    pub fn exists(&self, resource: &Resource) -> Result<bool, TemplateError> {
        resource.condition.as_deref().map_or(Ok(true), |c| self.condition(c))
    }

    fn truth(&self, expr: &Value) -> Result<bool, TemplateError> {
        let (name, args) = intrinsic(expr).ok_or_else(|| invalid(format!("not a condition: {expr}")))?;
        let args = args.as_array();
        let arg =
            |i: usize| args.and_then(|a| a.get(i)).ok_or_else(|| invalid(format!("{name}: argument {i}")));
        match name {
            "Fn::Equals" => Ok(self.resolve(arg(0)?)? == self.resolve(arg(1)?)?),
            "Fn::Not" => Ok(!self.truth(arg(0)?)?),
            "Fn::And" => args.into_iter().flatten().try_fold(true, |acc, e| Ok(acc && self.truth(e)?)),
            "Fn::Or" => args.into_iter().flatten().try_fold(false, |acc, e| Ok(acc || self.truth(e)?)),
            "Condition" => self.condition(expr["Condition"].as_str().unwrap_or_default()),
            other => Err(invalid(format!("{other} in a condition"))),
        }
    }

    /// The value CloudFormation would pass; `None` for `AWS::NoValue`.
    pub fn resolve(&self, value: &Value) -> Result<Option<Value>, TemplateError> {
        let Some((name, args)) = intrinsic(value) else {
            return Ok(Some(match value {
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .map(|v| self.resolve(v))
                        .filter_map(Result::transpose)
                        .collect::<Result<_, _>>()?,
                ),
                Value::Object(map) => {
                    let mut out = Map::new();
                    for (k, v) in map {
                        if let Some(v) = self.resolve(v)? {
                            out.insert(k.clone(), v);
                        }
                    }
                    Value::Object(out)
                }
                other => other.clone(),
            }));
        };
        let text = |v: &Value| -> Result<String, TemplateError> {
            match self.resolve(v)? {
                Some(Value::String(s)) => Ok(s),
                Some(Value::Number(n)) => Ok(n.to_string()),
                other => Err(invalid(format!("{name}: expected text, got {other:?}"))),
            }
        };
        let list = |v: &Value| -> Result<Vec<Value>, TemplateError> {
            match self.resolve(v)? {
                Some(Value::Array(items)) => Ok(items),
                other => Err(invalid(format!("{name}: expected a list, got {other:?}"))),
            }
        };
        let nth = |i: usize| args.get(i).ok_or_else(|| invalid(format!("{name}: argument {i}")));
        Ok(Some(match name {
            "Ref" => {
                let target = args.as_str().unwrap_or_default();
                if target == NO_VALUE {
                    return Ok(None);
                }
                if let Some(v) = self.pseudo(target) {
                    Value::String(v)
                } else if let Some(p) = self.parameters.get(target) {
                    if self.is_list_parameter(target) {
                        Value::Array(
                            p.split(',').filter(|s| !s.is_empty()).map(|s| json!(s.trim())).collect(),
                        )
                    } else {
                        Value::String(p.clone())
                    }
                } else {
                    Value::String(self.physical(target)?.reference.clone())
                }
            }
            "Fn::GetAtt" => {
                let resource = nth(0)?.as_str().unwrap_or_default();
                let attribute = nth(1)?.as_str().unwrap_or_default();
                Value::String(self.attribute(resource, attribute)?)
            }
            "Fn::Sub" => {
                let (pattern, vars) = match args {
                    Value::String(s) => (s.clone(), Map::new()),
                    Value::Array(a) => (
                        a.first().and_then(Value::as_str).unwrap_or_default().to_owned(),
                        a.get(1).and_then(Value::as_object).cloned().unwrap_or_default(),
                    ),
                    _ => return Err(invalid("Fn::Sub: expected text or [text, variables]")),
                };
                Value::String(self.substitute(&pattern, &vars)?)
            }
            "Fn::If" => {
                let condition = nth(0)?.as_str().unwrap_or_default();
                let branch = if self.condition(condition)? { nth(1)? } else { nth(2)? };
                return self.resolve(branch);
            }
            "Fn::Join" => {
                let separator = nth(0)?.as_str().unwrap_or_default();
                let parts: Vec<String> = list(nth(1)?)?
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
                    .collect();
                Value::String(parts.join(separator))
            }
            "Fn::Split" => {
                let separator = nth(0)?.as_str().unwrap_or_default();
                Value::Array(text(nth(1)?)?.split(separator).map(|s| json!(s)).collect())
            }
            "Fn::Select" => {
                let index: usize = text(nth(0)?)?.parse().map_err(|_| invalid("Fn::Select: index"))?;
                list(nth(1)?)?.get(index).cloned().ok_or_else(|| invalid("Fn::Select: index out of range"))?
            }
            other => return Err(invalid(format!("{other} is not supported locally"))),
        }))
    }

    /// Resolved to text (`None` for `AWS::NoValue`).
    pub fn text(&self, value: &Value) -> Result<Option<String>, TemplateError> {
        Ok(match self.resolve(value)? {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(other) => Some(other.to_string()),
        })
    }

    fn physical(&self, id: &str) -> Result<&Physical, TemplateError> {
        self.resources.get(id).ok_or_else(|| invalid(format!("{id} does not exist (yet) locally")))
    }

    fn attribute(&self, resource: &str, attribute: &str) -> Result<String, TemplateError> {
        self.physical(resource)?
            .attributes
            .get(attribute)
            .cloned()
            .ok_or_else(|| invalid(format!("{resource}.{attribute} is not known locally")))
    }

    /// `${Name}`, `${Resource.Attribute}`, `${!Literal}`.
    fn substitute(&self, pattern: &str, vars: &Map<String, Value>) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(pattern.len());
        let mut rest = pattern;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| invalid(format!("Fn::Sub: unclosed ${{ in {pattern}")))?;
            let name = &rest[start + 2..start + end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                out.push_str(&self.text(v)?.unwrap_or_default());
            } else if let Some((resource, attribute)) = name.split_once('.') {
                out.push_str(&self.attribute(resource, attribute)?);
            } else {
                out.push_str(&self.text(&json!({ "Ref": name }))?.unwrap_or_default());
            }
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// `{"Ref": x}` or `{"Fn::…": x}` → (name, argument).
fn intrinsic(value: &Value) -> Option<(&str, &Value)> {
    let map = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    let (k, v) = map.iter().next()?;
    (k == "Ref" || k == "Condition" || k.starts_with("Fn::")).then_some((k.as_str(), v))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Env: { Type: String, Default: prod }
  Ids: { Type: CommaDelimitedList, Default: "a,b" }
  Extra: { Type: String, Default: "" }
Conditions:
  HasExtra: !Not [!Equals [!Ref Extra, ""]]
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Thing:
    Type: Custom::Thing
    Condition: HasExtra
    Properties:
      Name: !Sub ${AWS::StackName}-${Env}-${Queue.QueueName}-${!Literal}
      Arn: !GetAtt Queue.Arn
      Second: !Select [1, !Ref Ids]
      Maybe: !If [HasExtra, !Ref Extra, !Ref AWS::NoValue]
      Joined: !Join ["/", [x, !Ref Env]]
"#;

    fn resolver<'a>(t: &'a Template, extra: &str) -> Resolver<'a> {
        let mut r = Resolver::new(t, "vigil", &BTreeMap::from([("Extra".to_owned(), extra.to_owned())]));
        r.resources.insert(
            "Queue".into(),
            Physical {
                reference: "https://q".into(),
                attributes: BTreeMap::from([
                    ("QueueName".into(), "q".into()),
                    ("Arn".into(), "arn:q".into()),
                ]),
            },
        );
        r
    }

    #[test]
    fn intrinsics_resolve_as_cloudformation_resolves_them() {
        let t = Template::parse(TEMPLATE).unwrap();
        let thing = t.resource("Thing").unwrap();
        let r = resolver(&t, "x");
        assert!(r.exists(&thing).unwrap());
        let props = r.resolve(&thing.properties).unwrap().unwrap();
        assert_eq!(
            props,
            json!({ "Name": "vigil-prod-q-${Literal}", "Arn": "arn:q", "Second": "b", "Maybe": "x", "Joined": "x/prod" })
        );
    }

    #[test]
    fn conditions_drop_resources_and_no_value_drops_properties() {
        let t = Template::parse(TEMPLATE).unwrap();
        let thing = t.resource("Thing").unwrap();
        let r = resolver(&t, "");
        assert!(!r.exists(&thing).unwrap());
        let props = r.resolve(&thing.properties).unwrap().unwrap();
        assert!(props.get("Maybe").is_none());
    }

    #[test]
    fn an_unknown_resource_is_an_error_not_an_empty_name() {
        let t = Template::parse("Resources:\n  A:\n    Type: X\n    Properties:\n      B: !Ref Missing\n")
            .unwrap();
        let r = Resolver::new(&t, "s", &BTreeMap::new());
        assert!(r.resolve(&t.resource("A").unwrap().properties).is_err());
    }
}
