"""Creates, on a local AWS (moto), the resources the functions expect, with the names the
README's local-invoke commands use. Usage: create_resources.py http://127.0.0.1:5000

(The SAM template issue replaces this with resources read from template.yaml.)"""

import json
import sys

import boto3

endpoint = sys.argv[1]
session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")


def client(name):
    return session.client(name, endpoint_url=endpoint)


ddb = client("dynamodb")
ddb.create_table(
    TableName="vigil-state",
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    BillingMode="PAY_PER_REQUEST",
)
ddb.update_time_to_live(TableName="vigil-state", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
s3 = client("s3")
for bucket in ["vigil-lake", "vigil-quarantine", "vigil-incoming"]:
    s3.create_bucket(Bucket=bucket)
client("kinesis").create_stream(StreamName="vigil-transactions", ShardCount=1)
events = client("events")
events.create_event_bus(Name="vigil-alerts")
sns, sqs = client("sns"), client("sqs")
topics = {}
for severity in ["medium", "high"]:
    topic = sns.create_topic(Name=f"vigil-alerts-{severity}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"ops-{severity}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    topics[severity] = topic
print(json.dumps({"VIGIL_TOPIC_MEDIUM": topics["medium"], "VIGIL_TOPIC_HIGH": topics["high"]}))
