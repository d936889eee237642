//! The template's resources created on a local AWS (moto), with the names and attributes
//! the template gives them, and what Lambda would wire around the functions: each
//! function's resolved environment, its stream event sources, the EventBridge rules that
//! target it, and an SQS inbox standing in for each e-mail subscription.
//!
//! Created locally: DynamoDB tables (keys, TTL), S3 buckets (versioning, Object Lock), Kinesis streams,
//! SQS queues, SNS topics and subscriptions (filter policies), EventBridge buses and rules
//! (patterns). Named only (nothing to run locally): functions, keys, roles, alarms, logs,
//! APIs. Encryption, IAM and alarms are checked on the template itself.

use crate::template::{Physical, Resolver, Resource, Template, TemplateError};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("creating {resource}: {message}")]
    Create { resource: String, message: String },
}

fn failed(resource: &str) -> impl Fn(String) -> StackError + '_ {
    move |message| StackError::Create { resource: resource.to_owned(), message }
}

pub(crate) use vigil_shared::aws::describe;

/// A Kinesis event source mapping, as the template configures it.
#[derive(Debug, Clone)]
pub struct StreamSource {
    /// Logical id of the function it invokes.
    pub function: String,
    pub stream: String,
    pub stream_arn: String,
    pub batch_size: usize,
    pub window: Duration,
    /// `None`: retry until the record expires.
    pub max_retries: Option<u32>,
    pub max_record_age: Option<Duration>,
    pub bisect: bool,
    pub reports_item_failures: bool,
    /// Queue URL of the on-failure destination.
    pub on_failure: Option<String>,
}

/// An EventBridge rule target that is a function: locally the rule delivers to an SQS
/// queue (moto runs no functions) and a poller invokes the function from it.
#[derive(Debug, Clone)]
pub struct RuleTarget {
    pub function: String,
    pub queue_url: String,
    /// Attempts the function gets (1 + its `EventInvokeConfig.MaximumRetryAttempts`).
    pub attempts: u32,
    /// Queue URL of the function's on-failure destination.
    pub on_failure: Option<String>,
}

/// The stack on a local AWS.
pub struct LocalStack {
    pub template: Template,
    pub name: String,
    pub parameters: BTreeMap<String, String>,
    pub resources: BTreeMap<String, Physical>,
    pub stream_sources: Vec<StreamSource>,
    pub rule_targets: Vec<RuleTarget>,
    /// E-mail endpoint → URL of the SQS queue subscribed in its place.
    pub inboxes: BTreeMap<String, String>,
}

/// `AlertsMediumTopic` → `alerts-medium-topic`.
fn kebab(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 4);
    for (i, c) in id.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The property that names a resource of this kind, where the template may set one.
fn name_property(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "AWS::DynamoDB::Table" => "TableName",
        "AWS::S3::Bucket" => "BucketName",
        "AWS::Kinesis::Stream" | "AWS::Events::EventBus" | "AWS::Events::Rule" | "AWS::Athena::WorkGroup" => {
            "Name"
        }
        "AWS::SQS::Queue" => "QueueName",
        "AWS::SNS::Topic" => "TopicName",
        "AWS::Serverless::Function" | "AWS::Lambda::Function" => "FunctionName",
        _ => return None,
    })
}

impl LocalStack {
    /// The stack as it would be named under `parameters` (defaults otherwise), nothing
    /// created: enough to resolve environments and outputs.
    pub fn planned(
        template: Template,
        name: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<LocalStack, StackError> {
        let mut r = Resolver::new(&template, name, parameters);
        let mut todo = Vec::new();
        for res in template.resources() {
            if r.exists(&res)? {
                todo.push(res);
            }
        }
        // A name may be built from another resource's (a consumer from its stream's ARN):
        // plan what can be planned until everything is, or nothing more can be.
        while !todo.is_empty() {
            let before = todo.len();
            let mut blocked = Vec::new();
            let mut last_error = None;
            for res in std::mem::take(&mut todo) {
                match plan(&r, &res) {
                    Ok(physical) => drop(r.resources.insert(res.id.clone(), physical)),
                    Err(e) => {
                        last_error = Some(e);
                        blocked.push(res);
                    }
                }
            }
            if blocked.len() == before
                && let Some(e) = last_error
            {
                return Err(e);
            }
            todo = blocked;
        }
        let Resolver { parameters, resources, .. } = r;
        Ok(LocalStack {
            template,
            name: name.to_owned(),
            parameters,
            resources,
            stream_sources: Vec::new(),
            rule_targets: Vec::new(),
            inboxes: BTreeMap::new(),
        })
    }

    /// Creates the template's resources under `parameters` (defaults otherwise).
    pub async fn create(
        config: &SdkConfig,
        template: Template,
        name: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<LocalStack, StackError> {
        let mut stack = LocalStack::planned(template, name, parameters)?;
        let clients = Clients::new(config);
        let (mut rule_targets, mut inboxes, mut stream_sources) = (Vec::new(), BTreeMap::new(), Vec::new());
        let mut r = stack.resolver();
        let resources: Vec<Resource> =
            stack.template.resources().into_iter().filter(|res| r.resources.contains_key(&res.id)).collect();
        for kind in [
            "AWS::KMS::Key",
            "AWS::SecretsManager::Secret",
            "AWS::DynamoDB::Table",
            "AWS::S3::Bucket",
            "AWS::Kinesis::Stream",
            "AWS::SQS::Queue",
            "AWS::SNS::Topic",
            "AWS::Events::EventBus",
            "AWS::Events::Rule",
            "AWS::SNS::Subscription",
            "AWS::Lambda::EventSourceMapping",
        ] {
            for res in resources.iter().filter(|res| res.kind == kind) {
                let physical = r.resources[&res.id].clone();
                match kind {
                    "AWS::KMS::Key" => {
                        let (id, arn) = clients.key(res).await?;
                        let entry = r.resources.get_mut(&res.id).expect("planned");
                        entry.reference = id.clone();
                        entry.attributes.insert("KeyId".into(), id);
                        entry.attributes.insert("Arn".into(), arn);
                    }
                    "AWS::SecretsManager::Secret" => clients.secret(&r, res, &physical.reference).await?,
                    "AWS::DynamoDB::Table" => clients.table(&r, res, &physical.reference).await?,
                    "AWS::S3::Bucket" => clients.bucket(&r, res, &physical.reference).await?,
                    "AWS::Kinesis::Stream" => clients.stream(&r, res, &physical.reference).await?,
                    "AWS::SQS::Queue" => {
                        let name = &physical.attributes["QueueName"];
                        let (url, _) = queue(&clients.sqs, name).await.map_err(failed(&res.id))?;
                        let entry = r.resources.get_mut(&res.id).expect("planned");
                        entry.reference = url.clone();
                        entry.attributes.insert("QueueUrl".into(), url);
                    }
                    "AWS::SNS::Topic" => {
                        let name = &physical.attributes["TopicName"];
                        let out = clients.sns.create_topic().name(name).send().await;
                        out.map_err(|e| failed(&res.id)(describe(&e)))?;
                    }
                    "AWS::Events::EventBus" => {
                        let out =
                            clients.eventbridge.create_event_bus().name(&physical.reference).send().await;
                        out.map_err(|e| failed(&res.id)(describe(&e)))?;
                    }
                    "AWS::Events::Rule" => rule_targets.extend(clients.rule(&r, res, &stack.template).await?),
                    "AWS::SNS::Subscription" => clients.subscription(&r, res, &mut inboxes, name).await?,
                    "AWS::Lambda::EventSourceMapping" => stream_sources.extend(stream_source(&r, res)?),
                    _ => {}
                }
            }
        }
        stack.resources = r.resources;
        stack.rule_targets = rule_targets;
        stack.inboxes = inboxes.into_iter().map(|(endpoint, (url, _))| (endpoint, url)).collect();
        stack.stream_sources = stream_sources;
        Ok(stack)
    }

    fn resolver(&self) -> Resolver<'_> {
        let mut r = Resolver::new(&self.template, &self.name, &self.parameters);
        r.resources = self.resources.clone();
        r
    }

    /// The function `name` (`scorer` → `ScorerFunction`): its logical id and resource. The
    /// decision API (`decision`) runs the scorer binary in a function of its own.
    pub fn function(&self, name: &str) -> Option<Resource> {
        let mut letters = name.chars();
        let first = letters.next()?.to_ascii_uppercase();
        let id = format!("{first}{}Function", letters.as_str());
        self.template.resource(&id).filter(|f| f.kind == "AWS::Serverless::Function")
    }

    /// A function's environment as Lambda would set it (conditions applied, intrinsics
    /// resolved).
    pub fn environment(&self, function: &Resource) -> Result<BTreeMap<String, String>, TemplateError> {
        let r = self.resolver();
        let mut out = BTreeMap::new();
        for (name, value) in self.template.function_environment(function) {
            if let Some(v) = r.text(&value)? {
                out.insert(name, v);
            }
        }
        Ok(out)
    }

    /// The template's outputs, resolved.
    pub fn outputs(&self) -> Result<BTreeMap<String, String>, TemplateError> {
        let r = self.resolver();
        let mut out = BTreeMap::new();
        if let Some(map) = self.template.doc["Outputs"].as_object() {
            for (name, output) in map {
                if let Some(v) = r.text(&output["Value"])? {
                    out.insert(name.clone(), v);
                }
            }
        }
        Ok(out)
    }
}

/// The name and attributes a resource will have.
fn plan(r: &Resolver<'_>, res: &Resource) -> Result<Physical, StackError> {
    let explicit = match name_property(&res.kind) {
        Some(p) if !res.properties[p].is_null() => r.text(&res.properties[p])?,
        // A Glue database's name sits in its input.
        _ if res.kind == "AWS::Glue::Database" => r.text(&res.properties["DatabaseInput"]["Name"])?,
        _ => None,
    };
    let name = explicit.unwrap_or_else(|| format!("{}-{}", r.stack, kebab(&res.id)));
    let (region, account) = (&r.region, &r.account);
    let mut attributes = BTreeMap::new();
    let reference = match res.kind.as_str() {
        "AWS::DynamoDB::Table" => {
            attributes.insert("Arn".into(), format!("arn:aws:dynamodb:{region}:{account}:table/{name}"));
            name
        }
        "AWS::S3::Bucket" => {
            attributes.insert("Arn".into(), format!("arn:aws:s3:::{name}"));
            name
        }
        "AWS::Kinesis::Stream" => {
            attributes.insert("Arn".into(), format!("arn:aws:kinesis:{region}:{account}:stream/{name}"));
            name
        }
        "AWS::SQS::Queue" => {
            attributes.insert("Arn".into(), format!("arn:aws:sqs:{region}:{account}:{name}"));
            attributes.insert("QueueName".into(), name.clone());
            name // the URL, once created
        }
        "AWS::SNS::Topic" => {
            let arn = format!("arn:aws:sns:{region}:{account}:{name}");
            attributes.insert("TopicArn".into(), arn.clone());
            attributes.insert("TopicName".into(), name);
            arn
        }
        "AWS::Events::EventBus" => {
            attributes.insert("Arn".into(), format!("arn:aws:events:{region}:{account}:event-bus/{name}"));
            attributes.insert("Name".into(), name.clone());
            name
        }
        "AWS::Events::Rule" => {
            attributes.insert("Arn".into(), format!("arn:aws:events:{region}:{account}:rule/{name}"));
            name
        }
        // Read locally by polling the stream: the consumer only names it.
        "AWS::Kinesis::StreamConsumer" => {
            let stream = r.text(&res.properties["StreamARN"])?.unwrap_or_default();
            let consumer = r.text(&res.properties["ConsumerName"])?.unwrap_or(name);
            let arn = format!("{stream}/consumer/{consumer}:1");
            attributes.insert("ConsumerARN".into(), arn.clone());
            arn
        }
        "AWS::Serverless::Function" | "AWS::Lambda::Function" => {
            attributes.insert("Arn".into(), format!("arn:aws:lambda:{region}:{account}:function:{name}"));
            name
        }
        _ => {
            attributes.insert("Arn".into(), format!("arn:aws:local:{region}:{account}:{name}"));
            name
        }
    };
    Ok(Physical { reference, attributes })
}

/// The Kinesis event source mapping `res` configures (`None` for other sources).
fn stream_source(r: &Resolver<'_>, res: &Resource) -> Result<Option<StreamSource>, StackError> {
    let p = r.resolve(&res.properties)?.unwrap_or(Value::Null);
    // A stream, or an enhanced fan-out consumer of one (`…:stream/NAME/consumer/…`).
    let source_arn = p["EventSourceArn"].as_str().unwrap_or_default();
    let arn = source_arn.split("/consumer/").next().unwrap_or_default();
    let Some(stream) = arn.strip_prefix(&format!("arn:aws:kinesis:{}:{}:stream/", r.region, r.account))
    else {
        tracing::info!(source = %res.id, "not a Kinesis source: not run locally");
        return Ok(None);
    };
    let number = |key: &str| number(&p[key]);
    let function = r
        .resources
        .iter()
        .find(|(_, physical)| Some(physical.reference.as_str()) == p["FunctionName"].as_str())
        .map(|(id, _)| id.clone())
        .ok_or_else(|| failed(&res.id)("FunctionName names no function of the stack".into()))?;
    let on_failure =
        p["DestinationConfig"]["OnFailure"]["Destination"].as_str().and_then(|arn| queue_url(r, arn));
    Ok(Some(StreamSource {
        function,
        stream: stream.to_owned(),
        stream_arn: arn.to_owned(),
        batch_size: number("BatchSize").unwrap_or(100).max(1) as usize,
        window: Duration::from_secs(number("MaximumBatchingWindowInSeconds").unwrap_or(0).max(0) as u64),
        max_retries: number("MaximumRetryAttempts").filter(|n| *n >= 0).map(|n| n as u32),
        max_record_age: number("MaximumRecordAgeInSeconds")
            .filter(|n| *n >= 0)
            .map(|n| Duration::from_secs(n as u64)),
        bisect: p["BisectBatchOnFunctionError"].as_bool().unwrap_or(false),
        reports_item_failures: p["FunctionResponseTypes"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures")),
        on_failure,
    }))
}

/// A numeric property: resolved parameters arrive as text, literals as numbers.
fn number(v: &Value) -> Option<i64> {
    v.as_str().and_then(|s| s.parse().ok()).or_else(|| v.as_i64())
}

/// Creates (or finds) the queue `name`: its URL and ARN.
pub async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<(String, String), String> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let out = sqs.create_queue().queue_name(name).send().await.map_err(|e| describe(&e))?;
    let url = out.queue_url.ok_or_else(|| "no queue URL".to_owned())?;
    let out = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let arn = out.attributes.and_then(|mut a| a.remove(&QueueAttributeName::QueueArn));
    Ok((url, arn.ok_or_else(|| "no queue ARN".to_owned())?))
}

/// The URL of the stack's queue with this ARN.
fn queue_url(r: &Resolver<'_>, arn: &str) -> Option<String> {
    r.resources
        .values()
        .find(|p| {
            p.attributes.get("Arn").map(String::as_str) == Some(arn) && p.attributes.contains_key("QueueUrl")
        })
        .map(|p| p.reference.clone())
}

struct Clients {
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    kinesis: aws_sdk_kinesis::Client,
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    eventbridge: aws_sdk_eventbridge::Client,
    kms: aws_sdk_kms::Client,
    secrets: aws_sdk_secretsmanager::Client,
}

/// What Secrets Manager's `GenerateSecretString` makes (without punctuation).
fn random_alphanumeric(length: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(length);
    while out.len() < length {
        // 248 = 4 × 62: bytes above it are dropped so every character is equally likely.
        let bytes = vigil_shared::privacy::seal::random_bytes::<32>();
        out.extend(bytes.iter().filter(|b| **b < 248).map(|b| CHARS[usize::from(*b) % CHARS.len()] as char));
    }
    out.truncate(length);
    out
}

impl Clients {
    fn new(config: &SdkConfig) -> Clients {
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            s3: vigil_shared::aws::s3::client(config),
            kinesis: aws_sdk_kinesis::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            eventbridge: aws_sdk_eventbridge::Client::new(config),
            kms: aws_sdk_kms::Client::new(config),
            secrets: aws_sdk_secretsmanager::Client::new(config),
        }
    }

    /// A symmetric key (moto keeps no key policy it would enforce: the template tests check
    /// those). Its id is what `!Ref` gives.
    async fn key(&self, res: &Resource) -> Result<(String, String), StackError> {
        let out = self.kms.create_key().description(&res.id).send().await;
        let meta = out.map_err(|e| failed(&res.id)(describe(&e)))?.key_metadata;
        let meta = meta.ok_or_else(|| failed(&res.id)("no key metadata".into()))?;
        Ok((meta.key_id.clone(), meta.arn.unwrap_or(meta.key_id)))
    }

    /// A secret as CloudFormation makes it: `SecretString`, or `GenerateSecretString`'s
    /// template with a random alphanumeric value under its key.
    async fn secret(&self, r: &Resolver<'_>, res: &Resource, name: &str) -> Result<(), StackError> {
        let p = r.resolve(&res.properties)?.unwrap_or(Value::Null);
        let value = match (&p["SecretString"], &p["GenerateSecretString"]) {
            (Value::String(s), _) => s.clone(),
            (_, g) if g.is_object() => {
                let mut doc: Value = serde_json::from_str(g["SecretStringTemplate"].as_str().unwrap_or("{}"))
                    .unwrap_or_default();
                let length = g["PasswordLength"].as_u64().unwrap_or(32) as usize;
                if let (Some(key), Some(map)) = (g["GenerateStringKey"].as_str(), doc.as_object_mut()) {
                    map.insert(key.to_owned(), Value::String(random_alphanumeric(length)));
                }
                doc.to_string()
            }
            _ => return Ok(()),
        };
        let out = self.secrets.create_secret().name(name).secret_string(value).send().await;
        out.map_err(|e| failed(&res.id)(describe(&e)))?;
        Ok(())
    }

    async fn table(&self, r: &Resolver<'_>, res: &Resource, name: &str) -> Result<(), StackError> {
        let p = r.resolve(&res.properties)?.unwrap_or(Value::Null);
        create_table(&self.dynamodb, name, &p).await.map_err(failed(&res.id))
    }

    async fn bucket(&self, r: &Resolver<'_>, res: &Resource, name: &str) -> Result<(), StackError> {
        let fail = failed(&res.id);
        // Object Lock is set when a bucket is created (the backup bucket), then its default retention.
        let locked = res.properties["ObjectLockEnabled"].as_bool() == Some(true);
        let create = self.s3.create_bucket().bucket(name).object_lock_enabled_for_bucket(locked);
        create.send().await.map_err(|e| fail(describe(&e)))?;
        if locked {
            let p = r.resolve(&res.properties["ObjectLockConfiguration"])?.unwrap_or(Value::Null);
            object_lock(&self.s3, name, &p).await.map_err(&fail)?;
        }
        let versioning = r.text(&res.properties["VersioningConfiguration"]["Status"])?;
        if versioning.as_deref() == Some("Enabled") {
            use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
            let config = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
            let out =
                self.s3.put_bucket_versioning().bucket(name).versioning_configuration(config).send().await;
            out.map_err(|e| fail(describe(&e)))?;
        }
        Ok(())
    }

    async fn stream(&self, r: &Resolver<'_>, res: &Resource, name: &str) -> Result<(), StackError> {
        use aws_sdk_kinesis::types::{StreamMode, StreamModeDetails};
        let fail = failed(&res.id);
        let mut create = self.kinesis.create_stream().stream_name(name);
        match r.text(&res.properties["StreamModeDetails"]["StreamMode"])?.as_deref() {
            Some("ON_DEMAND") => {
                let mode = StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build();
                create = create.stream_mode_details(mode.map_err(|e| fail(e.to_string()))?);
            }
            _ => {
                let shards = r.text(&res.properties["ShardCount"])?.and_then(|s| s.parse().ok()).unwrap_or(1);
                create = create.shard_count(shards);
            }
        }
        create.send().await.map_err(|e| fail(describe(&e)))?;
        Ok(())
    }

    /// The rule with its pattern; function targets go to a tap queue each.
    async fn rule(
        &self,
        r: &Resolver<'_>,
        res: &Resource,
        template: &Template,
    ) -> Result<Vec<RuleTarget>, StackError> {
        use aws_sdk_eventbridge::types::Target;
        let fail = failed(&res.id);
        let p = r.resolve(&res.properties)?.unwrap_or(Value::Null);
        let name = &r.resources[&res.id].reference;
        let bus = p["EventBusName"].as_str().unwrap_or("default");
        let pattern = p["EventPattern"].to_string();
        let out =
            self.eventbridge.put_rule().name(name).event_bus_name(bus).event_pattern(pattern).send().await;
        out.map_err(|e| fail(describe(&e)))?;
        let mut taps = Vec::new();
        for target in p["Targets"].as_array().into_iter().flatten() {
            let arn = target["Arn"].as_str().unwrap_or_default();
            let id = target["Id"].as_str().unwrap_or("target");
            let Some((function, _)) =
                r.resources.iter().find(|(_, f)| f.attributes.get("Arn").map(String::as_str) == Some(arn))
            else {
                continue;
            };
            let (url, queue_arn) = queue(&self.sqs, &format!("{name}-{id}-tap")).await.map_err(&fail)?;
            let target = Target::builder().id(id).arn(queue_arn).build().map_err(|e| fail(e.to_string()))?;
            let out =
                self.eventbridge.put_targets().rule(name).event_bus_name(bus).targets(target).send().await;
            out.map_err(|e| fail(describe(&e)))?;
            let config = template.resource(function).map(|f| r.resolve(&f.properties["EventInvokeConfig"]));
            let config = config.transpose()?.flatten().unwrap_or(Value::Null);
            let retries = number(&config["MaximumRetryAttempts"]).filter(|n| *n >= 0).map_or(2, |n| n as u32);
            let on_failure = config["DestinationConfig"]["OnFailure"]["Destination"]
                .as_str()
                .and_then(|a| queue_url(r, a));
            taps.push(RuleTarget {
                function: function.clone(),
                queue_url: url,
                attempts: retries + 1,
                on_failure,
            });
        }
        Ok(taps)
    }

    /// An e-mail subscription becomes an SQS inbox (one per address) with its filter policy.
    async fn subscription(
        &self,
        r: &Resolver<'_>,
        res: &Resource,
        inboxes: &mut BTreeMap<String, (String, String)>,
        stack: &str,
    ) -> Result<(), StackError> {
        let fail = failed(&res.id);
        let p = r.resolve(&res.properties)?.unwrap_or(Value::Null);
        let endpoint = p["Endpoint"].as_str().unwrap_or_default().to_owned();
        let (_, arn) = match inboxes.get(&endpoint) {
            Some(inbox) => inbox.clone(),
            None => {
                let local: String = endpoint
                    .split('@')
                    .next()
                    .unwrap_or("inbox")
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                let inbox = queue(&self.sqs, &format!("{stack}-inbox-{local}")).await.map_err(&fail)?;
                inboxes.insert(endpoint.clone(), inbox.clone());
                inbox
            }
        };
        let mut subscribe = self
            .sns
            .subscribe()
            .topic_arn(p["TopicArn"].as_str().unwrap_or_default())
            .protocol("sqs")
            .endpoint(arn);
        if let Some(policy) = p.get("FilterPolicy") {
            subscribe = subscribe.attributes("FilterPolicy", policy.to_string());
        }
        if let Some(scope) = p["FilterPolicyScope"].as_str() {
            subscribe = subscribe.attributes("FilterPolicyScope", scope);
        }
        subscribe.send().await.map_err(|e| fail(describe(&e)))?;
        Ok(())
    }
}

/// A bucket's Object Lock configuration as the template declares it (resolved):
/// `{ObjectLockEnabled, Rule: {DefaultRetention: {Mode, Days | Years}}}`.
pub async fn object_lock(s3: &aws_sdk_s3::Client, bucket: &str, p: &Value) -> Result<(), String> {
    use aws_sdk_s3::types::{
        DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule,
    };
    let retention = &p["Rule"]["DefaultRetention"];
    let mut config = ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled);
    if let Some(mode) = retention["Mode"].as_str() {
        let mut default = DefaultRetention::builder().mode(ObjectLockRetentionMode::from(mode));
        if let Some(days) = number(&retention["Days"]) {
            default = default.days(i32::try_from(days).map_err(|e| e.to_string())?);
        }
        if let Some(years) = number(&retention["Years"]) {
            default = default.years(i32::try_from(years).map_err(|e| e.to_string())?);
        }
        config = config.rule(ObjectLockRule::builder().default_retention(default.build()).build());
    }
    let out = s3
        .put_object_lock_configuration()
        .bucket(bucket)
        .object_lock_configuration(config.build())
        .send()
        .await;
    out.map_err(|e| describe(&e))?;
    Ok(())
}

/// Creates a table as its template properties declare it: attributes, key schema, global
/// secondary indexes (all projections, on-demand) and time to live. These properties hold
/// no intrinsic functions, so the test harness uses this with the template's own too.
pub async fn create_table(dynamodb: &aws_sdk_dynamodb::Client, name: &str, p: &Value) -> Result<(), String> {
    let error = |e: &dyn std::fmt::Display| e.to_string();
    let keys = |schema: &Value| -> Result<Vec<KeySchemaElement>, String> {
        schema
            .as_array()
            .into_iter()
            .flatten()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(k["AttributeName"].as_str().unwrap_or_default())
                    .key_type(KeyType::from(k["KeyType"].as_str().unwrap_or_default()))
                    .build()
                    .map_err(|e| error(&e))
            })
            .collect()
    };
    let mut create = dynamodb.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest);
    for a in p["AttributeDefinitions"].as_array().into_iter().flatten() {
        let definition = AttributeDefinition::builder()
            .attribute_name(a["AttributeName"].as_str().unwrap_or_default())
            .attribute_type(ScalarAttributeType::from(a["AttributeType"].as_str().unwrap_or_default()))
            .build()
            .map_err(|e| error(&e))?;
        create = create.attribute_definitions(definition);
    }
    create = create.set_key_schema(Some(keys(&p["KeySchema"])?));
    for index in p["GlobalSecondaryIndexes"].as_array().into_iter().flatten() {
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(
                index["Projection"]["ProjectionType"].as_str().unwrap_or("ALL"),
            ))
            .build();
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(index["IndexName"].as_str().unwrap_or_default())
            .set_key_schema(Some(keys(&index["KeySchema"])?))
            .projection(projection)
            .build()
            .map_err(|e| error(&e))?;
        create = create.global_secondary_indexes(gsi);
    }
    create.send().await.map_err(|e| describe(&e))?;
    let ttl = &p["TimeToLiveSpecification"];
    if ttl["Enabled"].as_bool() == Some(true) {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(ttl["AttributeName"].as_str().unwrap_or_default())
            .enabled(true)
            .build()
            .map_err(|e| error(&e))?;
        let out =
            dynamodb.update_time_to_live().table_name(name).time_to_live_specification(spec).send().await;
        out.map_err(|e| describe(&e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::kebab;

    #[test]
    fn logical_ids_become_readable_local_names() {
        assert_eq!(kebab("AlertsMediumTopic"), "alerts-medium-topic");
        assert_eq!(kebab("Key"), "key");
    }
}
