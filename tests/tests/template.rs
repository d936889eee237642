//! template.yaml: the linters pass, and the invariants a production stack needs hold —
//! checked on the template itself, so a new function or queue cannot skip them.

use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use vigil_local::template::Resource;
use vigil_local::{LocalStack, Template};
use vigil_shared::aws::lambda::{
    AlertsConfig, BackupSettings, DeskConfig, PrivacyConfig, ProducerConfig, ReportTriggerConfig,
    ScorerConfig, ScreeningConfig, Vars,
};
use vigil_tests::workspace;

fn template() -> Template {
    Template::load(&vigil_local::template_path()).expect("template.yaml parses")
}

fn functions(t: &Template) -> Vec<Resource> {
    t.of_kind("AWS::Serverless::Function")
}

/// `!Ref X` / `!GetAtt X.Arn` → `X`.
fn target(v: &Value) -> Option<&str> {
    v["Ref"].as_str().or_else(|| v["Fn::GetAtt"][0].as_str())
}

fn tool(name: &str) -> Command {
    let venv = workspace().join(".venv/bin").join(name);
    let mut c = Command::new(if venv.exists() { venv } else { name.into() });
    c.current_dir(workspace()).env("AWS_DEFAULT_REGION", "us-east-1").env("SAM_CLI_TELEMETRY", "0");
    c
}

fn passes(mut command: Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}; run `bash infra/setup.sh`"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cfn_lint_passes() {
    let mut c = tool("cfn-lint");
    c.arg("template.yaml");
    passes(c, "cfn-lint template.yaml");
}

#[test]
fn sam_validate_lint_passes() {
    let mut c = tool("sam");
    c.args(["validate", "--lint", "--template-file", "template.yaml"]);
    passes(c, "sam validate --lint");
}

#[test]
fn every_function_is_a_cargo_lambda_binary_on_al2023_with_json_logs() {
    let t = template();
    let globals = &t.doc["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(globals["Architectures"][0]["Ref"], "Architecture");
    assert_eq!(globals["LoggingConfig"]["LogFormat"], "JSON");
    let mut binaries = BTreeSet::new();
    for f in functions(&t) {
        assert_eq!(f.metadata["BuildMethod"], "rust-cargolambda", "{}", f.id);
        let binary = Template::binary(&f).unwrap_or_else(|| panic!("{}: no BuildProperties.Binary", f.id));
        assert!(
            workspace().join("functions").join(binary).join("Cargo.toml").exists(),
            "{}: no crate {binary}",
            f.id
        );
        assert!(
            f.properties["LoggingConfig"]["LogGroup"].is_object(),
            "{}: logs to a group with retention",
            f.id
        );
        binaries.insert(binary.to_owned());
    }
    assert_eq!(
        binaries,
        BTreeSet::from([
            "alerts".into(),
            "backup-copier".into(),
            "producer".into(),
            "report-trigger".into(),
            "scorer".into()
        ])
    );
}

#[test]
fn every_function_has_a_failure_destination_and_an_alarm() {
    let t = template();
    let mappings = t.of_kind("AWS::Lambda::EventSourceMapping");
    let alarms = t.of_kind("AWS::CloudWatch::Alarm");
    let queues: BTreeSet<String> = t.of_kind("AWS::SQS::Queue").into_iter().map(|q| q.id).collect();
    for f in functions(&t) {
        let asynchronous = &f.properties["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
        let destination =
            target(&asynchronous["Destination"]).or(target(&f.properties["DeadLetterQueue"]["TargetArn"]));
        let from_streams = mappings.iter().any(|m| target(&m.properties["FunctionName"]) == Some(&f.id));
        let invoked_asynchronously = f.properties["Events"].as_object().is_some_and(|events| {
            events.values().any(|e| {
                matches!(e["Type"].as_str(), Some("Schedule" | "ScheduleV2" | "S3" | "EventBridgeRule"))
            })
        });
        // A function behind the HTTP API only is invoked synchronously: its caller gets the
        // failure (and there is no asynchronous invocation to give a destination).
        let synchronous_only = f.properties["Events"]
            .as_object()
            .is_some_and(|events| events.values().all(|e| e["Type"] == "HttpApi"))
            && !from_streams;
        assert!(
            destination.is_some() || (from_streams && !invoked_asynchronously) || synchronous_only,
            "{}: failed invocations must land somewhere",
            f.id
        );
        if let Some(queue) = destination {
            assert!(queues.contains(queue), "{}: destination {queue} is not a queue of the stack", f.id);
        }
        let alarmed = alarms.iter().any(|a| {
            a.properties["MetricName"] == "Errors"
                && a.properties["Dimensions"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|d| target(&d["Value"]) == Some(&f.id)))
        });
        assert!(alarmed, "{}: no Errors alarm", f.id);
    }
    // Each dead-letter queue is watched, and so is the scorer's lag.
    for queue in &queues {
        let watched = alarms.iter().any(|a| {
            a.properties["Namespace"] == "AWS/SQS"
                && a.properties["Dimensions"][0]["Value"]["Fn::GetAtt"][0].as_str() == Some(queue.as_str())
        });
        assert!(watched, "{queue}: no depth alarm");
    }
    assert!(alarms.iter().any(|a| a.properties["MetricName"] == "IteratorAge"));
    assert!(alarms.iter().any(|a| a.id == "QuarantineRateAlarm"));
}

#[test]
fn stream_sources_report_item_failures_and_give_up_boundedly() {
    let t = template();
    let mappings = t.of_kind("AWS::Lambda::EventSourceMapping");
    assert!(!mappings.is_empty());
    for m in mappings {
        let p = &m.properties;
        assert!(
            target(&p["DestinationConfig"]["OnFailure"]["Destination"]).is_some(),
            "{}: on-failure destination",
            m.id
        );
        let kafka = p["Topics"].is_array();
        // The scorer reports item failures for Kinesis; a failed Kafka batch is redelivered whole.
        if !kafka {
            assert_eq!(
                p["FunctionResponseTypes"],
                serde_json::json!(["ReportBatchItemFailures"]),
                "{}",
                m.id
            );
        }
        assert_eq!(p["BisectBatchOnFunctionError"], true, "{}", m.id);
        let mut bounded = vec![
            "MaximumRetryAttempts",
            "MaximumRecordAgeInSeconds",
            "BatchSize",
            "MaximumBatchingWindowInSeconds",
        ];
        if kafka {
            // Lambda applies retry and age bounds to Kafka sources in provisioned mode only.
            assert!(p["ProvisionedPollerConfig"]["MinimumPollers"].is_number(), "{}: provisioned mode", m.id);
            let pollers = &p["ProvisionedPollerConfig"]["MaximumPollers"];
            let parameter =
                pollers["Ref"].as_str().unwrap_or_else(|| panic!("{}: MaximumPollers is a parameter", m.id));
            assert!(t.doc["Parameters"][parameter]["MaxValue"].is_number(), "{parameter} is bounded");
        } else {
            bounded.push("ParallelizationFactor");
        }
        for bounded in bounded {
            let parameter =
                p[bounded]["Ref"].as_str().unwrap_or_else(|| panic!("{}: {bounded} is a parameter", m.id));
            assert!(t.doc["Parameters"][parameter]["MaxValue"].is_number(), "{parameter} is bounded");
        }
    }
    assert!(t.of_kind("AWS::Lambda::EventSourceMapping").iter().any(|m| m.properties["Topics"].is_array()));
}

/// Every statement of every policy document in the template, with where it is.
fn statements(v: &Value, at: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(list)) = map.get("Statement") {
                out.extend(list.iter().map(|s| (at.to_owned(), s.clone())));
            }
            for (k, v) in map {
                statements(v, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, v)| statements(v, &format!("{at}/{i}"), out))
        }
        _ => {}
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

#[test]
fn policies_name_their_actions_and_resources() {
    let t = template();
    let mut all = Vec::new();
    statements(&t.doc["Resources"], "Resources", &mut all);
    assert!(all.len() > 20, "found {} statements", all.len());
    for (at, s) in &all {
        for action in as_list(&s["Action"]) {
            let action = action.as_str().unwrap_or_default();
            let wildcard = action == "*" || action.ends_with(":*");
            // A Deny of everything over plain HTTP is the point of a TLS-only policy.
            assert!(!wildcard || s["Effect"] == "Deny", "{at}: wildcard action {action}");
        }
        if s["Effect"] == "Allow" {
            for resource in as_list(&s["Resource"]) {
                if resource != "*" {
                    continue;
                }
                // "*" is allowed where nothing narrower exists: a key policy's own key,
                // and EC2 network interfaces for the VPC attachment (sids say so).
                let key_policy = at.contains("/KeyPolicy");
                let network = s["Sid"].as_str().is_some_and(|sid| sid.ends_with("Network"));
                assert!(key_policy || network, "{at} ({}): Resource \"*\"", s["Sid"]);
            }
        }
    }
}

/// Reads a function's configuration through a recorder: which variables it asked for.
struct Recorded<'a> {
    vars: &'a BTreeMap<String, String>,
    read: RefCell<BTreeSet<String>>,
}

impl Vars for Recorded<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.read.borrow_mut().insert(name.to_owned());
        self.vars.get(name).cloned()
    }
}

#[test]
fn every_variable_a_function_reads_is_set_by_the_template() {
    let without_msk = BTreeMap::new();
    let with_msk = BTreeMap::from([
        ("MskClusterArn".to_owned(), "arn:aws:kafka:us-east-1:123456789012:cluster/vigil/abc-1".to_owned()),
        ("MskBootstrapBrokers".to_owned(), "b-1.vigil.kafka.us-east-1.amazonaws.com:9098".to_owned()),
        ("MskSubnetIds".to_owned(), "subnet-0123456789abcdef0".to_owned()),
        ("MskSecurityGroupIds".to_owned(), "sg-0123456789abcdef0".to_owned()),
    ]);
    let mut checked = 0;
    for (parameters, msk) in [(without_msk, false), (with_msk, true)] {
        let stack = LocalStack::planned(template(), "vigil", &parameters).expect("the template resolves");
        for f in functions(&stack.template) {
            let env = stack.environment(&f).expect("environment resolves");
            let recorded = Recorded { vars: &env, read: RefCell::default() };
            match Template::binary(&f) {
                Some("scorer") => {
                    drop(ScorerConfig::from_vars(&recorded).expect("scorer configures"));
                    let screening = ScreeningConfig::from_vars(&recorded).expect("screening configures");
                    assert_eq!(screening.is_some(), f.id == "ScorerFunction", "{}: screens", f.id);
                    drop(vigil_shared::aws::lambda::aml(&recorded).expect("AML configures"));
                    let desk = DeskConfig::from_vars(&recorded).expect("decision API configures");
                    assert_eq!(desk.is_some(), f.id == "DecisionFunction", "{}: serves decisions", f.id);
                    drop(PrivacyConfig::from_vars(&recorded).expect("keys configured"));
                    let audit = vigil_shared::aws::lambda::audit_bucket(&recorded);
                    assert_eq!(
                        audit.is_some(),
                        f.id == "ScorerFunction",
                        "{}: records its configuration",
                        f.id
                    );
                }
                Some("alerts") => drop(AlertsConfig::from_vars(&recorded).expect("alerts configures")),
                Some("backup-copier") => {
                    let settings = BackupSettings::from_vars(&recorded).expect("backup copier configures");
                    assert!(vigil_shared::aws::lambda::audit_bucket(&recorded).is_some(), "runs are audited");
                    let buckets: Vec<&str> =
                        settings.config.sources.iter().map(|s| s.bucket.as_str()).collect();
                    assert_eq!(
                        buckets,
                        [
                            stack.resources["LakeBucket"].reference.as_str(),
                            stack.resources["ReportsBucket"].reference.as_str(),
                            stack.resources["AuditBucket"].reference.as_str()
                        ]
                    );
                }
                Some("report-trigger") => {
                    let config =
                        ReportTriggerConfig::from_vars(&recorded).expect("report trigger configures");
                    assert!(vigil_shared::aws::lambda::audit_bucket(&recorded).is_some(), "runs are audited");
                    assert_eq!(config.reports_bucket, stack.resources["ReportsBucket"].reference);
                    assert_eq!(config.database, "vigil_lake");
                    assert_eq!(config.workgroup, "vigil-reports");
                }
                Some("producer") => {
                    let config = ProducerConfig::from_vars(&recorded).expect("producer configures");
                    drop(PrivacyConfig::from_vars(&recorded).expect("keys configured"));
                    let kafka = matches!(
                        config.stream,
                        vigil_shared::aws::lambda::StreamConfig::Kafka { iam: true, .. }
                    );
                    assert_eq!(kafka, msk, "the producer publishes to MSK exactly when the stack has one");
                }
                other => panic!("{}: unknown binary {other:?}", f.id),
            }
            let read = recorded.read.into_inner();
            // Optional variables are read and may be absent (Kafka when there is no MSK).
            // The scorer binary serves decisions only where a stream is named.
            // The decision API screens nothing (transfers are monitored on the stream), and AML
            // parameters default when unset.
            let optional = [
                "VIGIL_KAFKA_BROKERS",
                "VIGIL_STREAM",
                "VIGIL_SANCTIONS_BUCKET",
                "VIGIL_AML_CONFIG",
                "VIGIL_AUDIT_BUCKET",
            ];
            let unset: Vec<&String> =
                read.iter().filter(|v| !env.contains_key(*v) && !optional.contains(&v.as_str())).collect();
            assert!(unset.is_empty(), "{}: reads {unset:?}, which the template does not set", f.id);
            let unread: Vec<&String> = env.keys().filter(|k| !read.contains(*k)).collect();
            assert!(unread.is_empty(), "{}: the template sets {unread:?}, which it never reads", f.id);
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}

#[test]
fn outputs_name_the_stream_api_topics_and_buckets() {
    let stack = LocalStack::planned(template(), "vigil", &BTreeMap::new()).unwrap();
    let outputs = stack.outputs().unwrap();
    for name in [
        "StreamName",
        "ApiUrl",
        "DecisionsUrl",
        "AlertsMediumTopicArn",
        "AlertsHighTopicArn",
        "LakeBucketName",
        "QuarantineBucketName",
        "ReportsBucketName",
        "IncomingBucketName",
    ] {
        assert!(outputs.get(name).is_some_and(|v| !v.is_empty()), "output {name}");
    }
    assert_eq!(outputs["IncomingBucketName"], "vigil-incoming-123456789012-us-east-1");
}

#[test]
fn data_at_rest_is_encrypted_with_the_stack_key_and_buckets_refuse_plain_http() {
    let t = template();
    let uses_key = |v: &Value| v.to_string().contains(r#"{"Ref":"Key"}"#);
    for b in t.of_kind("AWS::S3::Bucket") {
        assert!(uses_key(&b.properties["BucketEncryption"]), "{}: KMS", b.id);
        assert_eq!(b.properties["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"], true, "{}", b.id);
        assert_eq!(b.properties["VersioningConfiguration"]["Status"], "Enabled", "{}", b.id);
        let tls_only = t.of_kind("AWS::S3::BucketPolicy").into_iter().any(|p| {
            target(&p.properties["Bucket"]) == Some(&b.id)
                && p.properties["PolicyDocument"]["Statement"].to_string().contains("aws:SecureTransport")
        });
        assert!(tls_only, "{}: TLS-only bucket policy", b.id);
    }
    for table in t.of_kind("AWS::DynamoDB::Table") {
        assert!(uses_key(&table.properties["SSESpecification"]), "{}", table.id);
        assert_eq!(table.properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
        assert_eq!(
            table.properties["TimeToLiveSpecification"]["AttributeName"],
            vigil_shared::aws::dynamodb::TTL
        );
    }
    for topic in t.of_kind("AWS::SNS::Topic") {
        assert!(uses_key(&topic.properties["KmsMasterKeyId"]), "{}", topic.id);
    }
    for stream in t.of_kind("AWS::Kinesis::Stream") {
        assert!(uses_key(&stream.properties["StreamEncryption"]), "{}", stream.id);
    }
}

#[test]
fn the_test_harness_names_resources_as_the_local_stack_does() {
    let stack = LocalStack::planned(template(), "vigil", &BTreeMap::new()).unwrap();
    let name = |id: &str| stack.resources[id].reference.clone();
    assert_eq!(name("StateTable"), vigil_tests::TABLE);
    assert_eq!(name("LakeBucket"), vigil_tests::LAKE);
    assert_eq!(name("QuarantineBucket"), vigil_tests::QUARANTINE);
    assert_eq!(name("IncomingBucket"), vigil_tests::DROP);
    assert_eq!(name("AlertBus"), vigil_tests::BUS);
    assert_eq!(name("TransactionStream"), vigil_tests::STREAM);
    let topic = &stack.resources["AlertsHighTopic"].attributes["TopicName"];
    assert_eq!(*topic, format!("{}high-topic", vigil_tests::TOPIC_PREFIX));
    assert_eq!(stack.parameters["MskTopic"], "vigil-transactions");
}

/// A function's role: its statements, and every action they name.
fn role_actions(t: &Template, function: &Resource) -> (Vec<(String, Value)>, BTreeSet<String>) {
    let role = t.resource(target(&function.properties["Role"]).unwrap()).unwrap();
    let mut all = Vec::new();
    statements(&role.properties, &role.id, &mut all);
    let actions = all
        .iter()
        .flat_map(|(_, s)| as_list(&s["Action"]))
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    (all, actions)
}

#[test]
fn the_decision_route_is_signed_and_served_by_the_scorer_binary() {
    let t = template();
    let f = t.resource("DecisionFunction").expect("a decision function");
    assert_eq!(Template::binary(&f), Some("scorer"));
    let route = &f.properties["Events"]["Decide"]["Properties"];
    assert_eq!((route["Method"].as_str(), route["Path"].as_str()), (Some("POST"), Some("/v1/decisions")));
    assert_eq!(vigil_shared::aws::lambda::DECISIONS_ROUTE, "POST /v1/decisions");
    // The route has no authoriser of its own: the API's default, IAM (SigV4), applies.
    assert!(route["Auth"].is_null());
    let api = t.resource(target(&route["ApiId"]).expect("on the stack's API")).unwrap();
    assert_eq!(api.properties["Auth"]["DefaultAuthorizer"], "AWS_IAM");
    assert_eq!(api.properties["Auth"]["EnableIamAuthorizer"], true);
    // Warm environments are the operator's choice, none by default.
    let warm = &f.properties["ProvisionedConcurrencyConfig"]["Fn::If"];
    assert_eq!(warm[1]["ProvisionedConcurrentExecutions"]["Ref"], "DecisionProvisionedConcurrency");
    assert_eq!(t.doc["Parameters"]["DecisionProvisionedConcurrency"]["Default"], 0);
    assert_eq!(t.doc["Parameters"]["DecisionBudgetMs"]["Default"], 150);
    // The answer never waits on the function's own timeout for long.
    assert!(f.properties["Timeout"].as_u64().is_some_and(|s| s <= 10));
    // Its role writes state and the stream, never the lake or the alert bus.
    let (_, actions) = role_actions(&t, &f);
    assert!(actions.contains("kinesis:PutRecords") && actions.contains("dynamodb:BatchGetItem"));
    assert!(!actions.contains("events:PutEvents"), "alerts are the stream path's");
    assert!(!actions.iter().any(|a| a.starts_with("s3:") && a != "s3:PutObject"));
}

#[test]
fn the_backup_bucket_locks_every_copy_and_the_copier_cannot_delete() {
    let t = template();
    let bucket = t.resource("BackupBucket").expect("a backup bucket");
    assert_eq!(bucket.properties["ObjectLockEnabled"], true, "Object Lock is on from creation");
    let rule = &bucket.properties["ObjectLockConfiguration"]["Rule"]["DefaultRetention"];
    assert_eq!(rule["Mode"], "COMPLIANCE");
    assert_eq!(rule["Days"]["Ref"], "BackupRetentionDays");
    assert!(t.doc["Parameters"]["BackupRetentionDays"]["MinValue"].as_u64().is_some_and(|d| d >= 1));
    // The sources tell EventBridge about new objects; the copier's rule picks the prefixes.
    for source in ["LakeBucket", "ReportsBucket"] {
        let b = t.resource(source).unwrap();
        assert_eq!(
            b.properties["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"],
            true
        );
    }
    let f = t.resource("BackupCopierFunction").unwrap();
    let events = &f.properties["Events"];
    assert_eq!(events["NewObjects"]["Type"], "EventBridgeRule");
    assert_eq!(events["NewObjects"]["Properties"]["Pattern"]["detail-type"][0], "Object Created");
    assert!(target(&events["NewObjects"]["Properties"]["DeadLetterConfig"]["Arn"]).is_some());
    for (event, action) in [("Reconcile", "reconcile"), ("Verify", "verify")] {
        let input: Value =
            serde_json::from_str(events[event]["Properties"]["Input"].as_str().unwrap()).unwrap();
        assert_eq!(input["action"], action, "{event}");
    }
    // Azure credentials come from Secrets Manager, never the template.
    let env = t.function_environment(&f);
    assert_eq!(target(&env["VIGIL_AZURE_SECRET"]), Some("AzureBackupSecret"));
    assert!(!t.doc.to_string().to_lowercase().contains("accountkey="), "no Azure key in the template");
    // Least privilege: reads the sources, writes the backup and restore buckets, deletes nothing.
    let (all, actions) = role_actions(&t, &f);
    assert!(
        actions.iter().all(|a| !a.to_lowercase().contains("delete") && !a.contains("Bypass")),
        "{actions:?}"
    );
    for needed in
        ["s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectRetention", "secretsmanager:GetSecretValue"]
    {
        assert!(actions.contains(needed), "{needed}");
    }
    for (_, s) in &all {
        let writes = as_list(&s["Action"]).iter().any(|a| a == "s3:PutObject");
        let resources = s["Resource"].to_string();
        if writes {
            assert!(
                !resources.contains("LakeBucket") && !resources.contains("ReportsBucket"),
                "never writes a source: {resources}"
            );
        }
    }
}

/// Whatever the scorer may write to the lake (its role's `Lake` statement), the backup
/// copier reads, its rule announces and its sources name: a new lake table is backed up too.
#[test]
fn every_prefix_the_scorer_writes_to_the_lake_is_backed_up() {
    let t = template();
    let scorer = t.resource("ScorerFunction").unwrap();
    let (statements, _) = role_actions(&t, &scorer);
    let written: BTreeSet<String> = statements
        .iter()
        .filter(|(_, s)| s["Sid"] == "Lake")
        .flat_map(|(_, s)| as_list(&s["Resource"]))
        .filter_map(|r| {
            r["Fn::Sub"].as_str().and_then(|r| r.strip_prefix("${LakeBucket.Arn}/")).map(str::to_owned)
        })
        .map(|p| p.trim_end_matches('*').to_owned())
        .collect();
    let tables: BTreeSet<String> =
        vigil_shared::archive::parquet::TABLES.iter().map(|(name, _)| format!("{name}/")).collect();
    assert_eq!(written, tables, "the scorer may write every lake table, and nothing else");
    let copier = t.resource("BackupCopierFunction").unwrap();
    let stack = LocalStack::planned(t.clone(), "vigil", &BTreeMap::new()).unwrap();
    let settings = BackupSettings::from_vars(&stack.environment(&copier).unwrap()).unwrap();
    let lake = &stack.resources["LakeBucket"].reference;
    let sources = settings.config.sources.iter().find(|s| &s.bucket == lake).expect("the lake is a source");
    let (reads, _) = role_actions(&t, &copier);
    let read: String = reads
        .iter()
        .filter(|(_, s)| s["Sid"] == "ReadSources")
        .map(|(_, s)| s["Resource"].to_string())
        .collect();
    let announced =
        copier.properties["Events"]["NewObjects"]["Properties"]["Pattern"]["detail"]["object"]["key"]
            .to_string();
    for prefix in &written {
        assert!(sources.prefixes.contains(prefix), "{prefix} is not in VIGIL_BACKUP_SOURCES");
        assert!(read.contains(&format!("${{LakeBucket.Arn}}/{prefix}*")), "the copier cannot read {prefix}");
        assert!(announced.contains(&format!("\"{prefix}\"")), "{prefix} is not in the rule's pattern");
    }
}

/// Key-policy or bucket-policy statements by sid.
fn by_sid(t: &Template, resource: &str, document: &str) -> BTreeMap<String, Value> {
    let doc = &t.resource(resource).unwrap_or_else(|| panic!("{resource}")).properties[document];
    as_list(&doc["Statement"]).into_iter().map(|s| (s["Sid"].as_str().unwrap_or("").to_owned(), s)).collect()
}

/// The principals a statement names (`!GetAtt Role.Arn` → `Role`).
fn principals(s: &Value) -> BTreeSet<String> {
    let p = &s["Principal"]["AWS"];
    as_list(p).iter().filter_map(|v| target(v).map(str::to_owned)).collect()
}

fn role_statements(t: &Template, role: &str) -> Vec<Value> {
    let mut all = Vec::new();
    statements(&t.resource(role).unwrap_or_else(|| panic!("{role}")).properties["Policies"], role, &mut all);
    all.into_iter().map(|(_, s)| s).collect()
}

/// Least privilege for sealed fields, by the KMS key policy and the bucket policies: only the
/// compliance role opens what compliance reads back; analysts see tokens only; auditors
/// read the trail and write nothing; the trail is append-only under Object Lock.
#[test]
fn only_compliance_opens_sealed_fields_and_the_audit_trail_is_append_only() {
    let t = template();
    let key = by_sid(&t, "FieldKey", "KeyPolicy");
    // The account administers the key but no IAM policy can grant its use.
    let admin = as_list(&key["AccountAdministers"]["Action"]);
    for a in &admin {
        let a = a.as_str().unwrap();
        assert!(
            !["kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:*"].contains(&a),
            "{a}"
        );
    }
    let mut decrypters = BTreeMap::new();
    for s in key.values().filter(|s| s["Effect"] == "Allow") {
        let actions = as_list(&s["Action"]);
        if actions.iter().any(|a| a.as_str().is_some_and(|a| a.contains("Decrypt") || a == "kms:*")) {
            let purposes = as_list(&s["Condition"]["StringEquals"]["kms:EncryptionContext:vigil:purpose"]);
            assert!(!purposes.is_empty(), "{s}: Decrypt bound to a purpose");
            for p in principals(s) {
                decrypters.insert(
                    p,
                    purposes.iter().map(|v| v.as_str().unwrap().to_owned()).collect::<BTreeSet<_>>(),
                );
            }
        }
    }
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        decrypters,
        BTreeMap::from([
            ("ComplianceRole".to_owned(), set(&["party", "quarantine"])),
            // Screening needs the payee's name in memory; quarantined payloads it never opens.
            ("ScorerRole".to_owned(), set(&["party"])),
        ])
    );

    // Analysts: lake and reports; the field key and the quarantine explicitly denied.
    let analyst = role_statements(&t, "AnalystRole");
    let denied = analyst.iter().find(|s| s["Effect"] == "Deny").expect("an explicit deny");
    let denied_resources = denied["Resource"].to_string();
    assert!(denied_resources.contains("FieldKey") && denied_resources.contains("QuarantineBucket"));
    let allowed = analyst
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .map(|s| s["Resource"].to_string())
        .collect::<String>();
    for never in ["AuditBucket", "QuarantineBucket", "FieldKey", "TokenKeySecret"] {
        assert!(!allowed.contains(never), "analyst reaches {never}");
    }

    // Compliance: assumed with MFA only.
    let trust = &t.resource("ComplianceRole").unwrap().properties["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Condition"]["Bool"]["aws:MultiFactorAuthPresent"], "true");

    // Auditors: the trail and reports, read-only by an explicit deny.
    let auditor = role_statements(&t, "AuditorRole");
    assert!(
        auditor.iter().any(|s| s["Effect"] == "Allow" && s["Resource"].to_string().contains("AuditBucket"))
    );
    let deny = auditor.iter().find(|s| s["Effect"] == "Deny").expect("read-only by a deny");
    for a in ["s3:Put*", "s3:Delete*"] {
        assert!(as_list(&deny["Action"]).iter().any(|x| x == a), "{a}");
    }
    assert!(!auditor.iter().any(|s| s["Resource"].to_string().contains("FieldKey")));

    // The quarantine bucket: only compliance reads refused payloads.
    let quarantine = by_sid(&t, "QuarantineBucketPolicy", "PolicyDocument");
    let reads = &quarantine["ComplianceReadsOnly"];
    assert_eq!(reads["Effect"], "Deny");
    assert_eq!(target(&reads["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]), Some("ComplianceRole"));

    // The trail: Object Lock in compliance mode; entries created once, never deleted, and
    // written only by the scorer, the copier and compliance.
    let bucket = t.resource("AuditBucket").unwrap();
    assert_eq!(bucket.properties["ObjectLockEnabled"], true);
    assert_eq!(
        bucket.properties["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Mode"],
        "COMPLIANCE"
    );
    let audit = by_sid(&t, "AuditBucketPolicy", "PolicyDocument");
    assert_eq!(audit["CreateOnly"]["Condition"]["Null"]["s3:if-none-match"], "true");
    let no_deletes = as_list(&audit["NoDeletes"]["Action"]);
    for a in ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutBucketVersioning"] {
        assert!(no_deletes.iter().any(|x| x == a), "{a}");
    }
    let writers: BTreeSet<String> =
        as_list(&audit["WritersOnly"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
            .iter()
            .filter_map(|v| target(v).map(str::to_owned))
            .collect();
    assert_eq!(writers, set(&["BackupRole", "ComplianceRole", "ScorerRole"]));
    // The token key is generated by Secrets Manager: never a value in the template.
    let secret = &t.resource("TokenKeySecret").unwrap().properties;
    assert!(secret["GenerateSecretString"].is_object() && secret["SecretString"].is_null());
}

#[test]
fn glue_declares_every_lake_table_as_the_scorer_writes_it_with_projected_days() {
    let t = template();
    let glue: BTreeMap<String, Resource> = t
        .of_kind("AWS::Glue::Table")
        .into_iter()
        .map(|r| (r.properties["TableInput"]["Name"].as_str().unwrap_or_default().to_owned(), r))
        .collect();
    let tables: BTreeSet<&str> = vigil_shared::archive::parquet::TABLES.iter().map(|(n, _)| *n).collect();
    assert_eq!(glue.keys().map(String::as_str).collect::<BTreeSet<_>>(), tables);
    for (name, schema) in vigil_shared::archive::parquet::TABLES {
        let input = &glue[name].properties["TableInput"];
        assert_eq!(target(&glue[name].properties["DatabaseName"]), Some("LakeDatabase"));
        let declared: Vec<(String, String)> = input["StorageDescriptor"]["Columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["Name"].as_str().unwrap().to_owned(), c["Type"].as_str().unwrap().to_owned()))
            .collect();
        let written = vigil_shared::archive::parquet::glue_columns(schema).unwrap();
        assert_eq!(declared, written, "{name}: Glue's columns are the Parquet schema's");
        assert_eq!(input["PartitionKeys"], serde_json::json!([{ "Name": "dt", "Type": "string" }]), "{name}");
        let p = &input["Parameters"];
        assert_eq!(
            (p["projection.enabled"].as_str(), p["projection.dt.type"].as_str()),
            (Some("true"), Some("date"))
        );
        assert_eq!(p["projection.dt.format"], "yyyy-MM-dd", "{name}: the dt= of archive::parquet");
        let template = p["storage.location.template"]["Fn::Sub"].as_str().unwrap_or_default();
        assert_eq!(template, format!("s3://${{LakeBucket}}/{name}/dt=${{!dt}}/"), "{name}");
        let location = input["StorageDescriptor"]["Location"]["Fn::Sub"].as_str().unwrap_or_default();
        assert_eq!(location, format!("s3://${{LakeBucket}}/{name}/"));
        assert!(input["StorageDescriptor"]["SerdeInfo"].to_string().contains("ParquetHiveSerDe"));
    }
    // The report trigger reads exactly these tables' objects.
    let trigger = t.resource("ReportTriggerFunction").unwrap();
    let (statements, _) = role_actions(&t, &trigger);
    let read: BTreeSet<String> = statements
        .iter()
        .filter(|(_, s)| s["Sid"] == "ReadLake")
        .flat_map(|(_, s)| as_list(&s["Resource"]))
        .filter_map(|r| {
            r["Fn::Sub"].as_str().and_then(|r| r.strip_prefix("${LakeBucket.Arn}/")).map(str::to_owned)
        })
        .collect();
    assert_eq!(read, tables.iter().map(|n| format!("{n}/*")).collect::<BTreeSet<_>>());
}

#[test]
fn reports_run_in_an_enforced_workgroup_on_daily_and_weekly_schedules_as_of_their_time() {
    let t = template();
    let workgroup = t.resource("ReportsWorkGroup").unwrap();
    let c = &workgroup.properties["WorkGroupConfiguration"];
    assert_eq!(c["EnforceWorkGroupConfiguration"], true, "callers cannot override it");
    assert_eq!(c["BytesScannedCutoffPerQuery"]["Ref"], "ReportBytesScannedCutoff");
    let results = &c["ResultConfiguration"];
    assert!(
        results["OutputLocation"]["Fn::Sub"]
            .as_str()
            .unwrap_or_default()
            .starts_with("s3://${ReportsBucket}/")
    );
    assert_eq!(results["EncryptionConfiguration"]["EncryptionOption"], "SSE_KMS");
    assert_eq!(target(&results["EncryptionConfiguration"]["KmsKey"]), Some("Key"));

    let trigger = t.resource("ReportTriggerFunction").unwrap();
    let queues: BTreeSet<String> = t.of_kind("AWS::SQS::Queue").into_iter().map(|q| q.id).collect();
    let mut runs = BTreeSet::new();
    for (name, event) in trigger.properties["Events"].as_object().unwrap() {
        assert_eq!(event["Type"], "ScheduleV2", "{name}: EventBridge Scheduler");
        let p = &event["Properties"];
        assert_eq!(p["ScheduleExpressionTimezone"], "UTC", "{name}");
        let dlq = target(&p["DeadLetterConfig"]["Arn"]).unwrap_or_default();
        assert!(queues.contains(dlq), "{name}: undelivered schedules land in a queue");
        let input = p["Input"].as_str().unwrap();
        if name == "LakeCompactionDaily" {
            assert_eq!(input, r#"{"action": "compact", "as_of": "<aws.scheduler.scheduled-time>"}"#);
            continue;
        }
        assert!(
            input.contains(r#""as_of": "<aws.scheduler.scheduled-time>""#),
            "{name}: as_of is the schedule's time"
        );
        let at = input.replace("<aws.scheduler.scheduled-time>", "2026-12-07T06:00:00Z");
        let request: vigil_shared::report::trigger::ScheduledReport =
            serde_json::from_str(&at).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            vigil_shared::report::find(&request.report).is_some(),
            "{name}: no report {}",
            request.report
        );
        request.period().unwrap_or_else(|e| panic!("{name}: {e}"));
        runs.insert((request.report, format!("{:?}", request.cadence)));
    }
    let reports: BTreeSet<&str> = runs.iter().map(|(r, _)| r.as_str()).collect();
    let all: BTreeSet<&str> = vigil_shared::report::REPORTS.iter().map(|r| r.name).collect();
    assert_eq!(reports, all, "every report is scheduled");
    assert!(runs.iter().any(|(_, c)| c == "Daily") && runs.iter().any(|(_, c)| c == "Weekly"));
}

/// Tipping-off: a compliance-only report (SAR candidates) is announced on a topic only the
/// compliance inbox hears, and analysts' role cannot read it, nor Athena's raw results.
#[test]
fn compliance_reports_reach_compliance_alone() {
    use vigil_shared::report::{Circulation, REPORTS};
    let t = template();
    let heard_by = |topic: &str| -> BTreeSet<String> {
        t.of_kind("AWS::SNS::Subscription")
            .into_iter()
            .filter(|s| target(&s.properties["TopicArn"]) == Some(topic))
            .filter_map(|s| target(&s.properties["Endpoint"]).map(str::to_owned))
            .collect()
    };
    assert_eq!(heard_by("ComplianceReportsTopic"), BTreeSet::from(["ComplianceEmail".to_owned()]));
    assert!(heard_by("ReportsTopic").contains("AlertEmail"), "the general topic reaches operations");

    let trigger = t.resource("ReportTriggerFunction").unwrap();
    let vars = &trigger.properties["Environment"]["Variables"];
    let topic = vars[vigil_shared::aws::lambda::env::TOPIC_COMPLIANCE_REPORTS].clone();
    assert_eq!(target(&topic), Some("ComplianceReportsTopic"));
    let (statements, _) = role_actions(&t, &trigger);
    assert!(
        statements.iter().any(|(_, s)| s["Action"] == "sns:Publish"
            && s["Resource"].to_string().contains("ComplianceReportsTopic"))
    );

    let denied: Vec<String> = role_statements(&t, "AnalystRole")
        .iter()
        .filter(|s| s["Effect"] == "Deny" && as_list(&s["Action"]).iter().any(|a| a == "s3:GetObject"))
        .flat_map(|s| as_list(&s["Resource"]))
        .filter_map(|r| r["Fn::Sub"].as_str().map(str::to_owned))
        .collect();
    let restricted: Vec<&str> =
        REPORTS.iter().filter(|r| r.circulation == Circulation::ComplianceOnly).map(|r| r.name).collect();
    assert!(!restricted.is_empty());
    let prefix = vigil_shared::aws::lambda::REPORTS_PREFIX;
    for name in restricted {
        let key = format!("${{ReportsBucket.Arn}}/{prefix}{name}/*");
        assert!(denied.contains(&key), "analysts can read {key}: {denied:?}");
    }
    assert!(denied.contains(&"${ReportsBucket.Arn}/athena-results/*".to_owned()), "{denied:?}");
}
