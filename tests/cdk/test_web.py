"""The web app's hosting in the CDK stack: private bucket, CloudFront with OAC, security headers,
/v1/* to the HTTP API, SPA routing, config.json (synthesized ONCE per module; bundling skipped)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App
from aws_cdk.assertions import Template

from infra.app import build, cdk_json_context
from infra.stack import SmsdeskStack

pytestmark = pytest.mark.cdk

# The managed policies CloudFront documents (CachingDisabled, AllViewerExceptHostHeader).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[SmsdeskStack, dict, Path]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(context={**cdk_json_context(), "aws:cdk:bundling-stacks": [], "stage": "ci"}, outdir=str(outdir))
    stack = build(app, nag=True)
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    return stack, Template.from_stack(stack).to_json(), outdir


def _of_type(template: dict, cfn_type: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def test_cdk_nag_is_clean_with_the_web_app(synth: tuple[SmsdeskStack, dict, Path]) -> None:
    report = json.loads((synth[2] / "validation-report.json").read_text())
    assert [v for p in report["pluginReports"] for v in p.get("violations", [])] == []


def test_the_bucket_is_private_encrypted_and_tls_only(synth: tuple[SmsdeskStack, dict, Path]) -> None:
    stack, t, _ = synth
    bucket_lid = stack.get_logical_id(stack.web.bucket.node.default_child)
    props = t["Resources"][bucket_lid]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    policy = next(
        p for p in _of_type(t, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket_lid}
    )
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    reads = [s for s in statements if s["Effect"] == "Allow"]
    # Only CloudFront, only this distribution (origin access control), read only.
    assert reads and all(s["Principal"] == {"Service": "cloudfront.amazonaws.com"} for s in reads)
    assert all("AWS:SourceArn" in json.dumps(s["Condition"]) for s in reads)
    assert _of_type(t, "AWS::CloudFront::OriginAccessControl")


def test_cloudfront_https_security_headers_spa_and_the_api_behind_v1(synth: tuple[SmsdeskStack, dict, Path]) -> None:
    stack, t, _ = synth
    (dist,) = _of_type(t, "AWS::CloudFront::Distribution").values()
    cfg = dist["Properties"]["DistributionConfig"]
    assert cfg["DefaultRootObject"] == "index.html"
    default = cfg["DefaultCacheBehavior"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert default["FunctionAssociations"][0]["EventType"] == "viewer-request"  # app routes -> /index.html
    assert "CustomErrorResponses" not in cfg  # they would rewrite the API's own 403/404 bodies
    (api,) = [b for b in cfg["CacheBehaviors"] if b["PathPattern"] == "/v1/*"]
    assert api["ViewerProtocolPolicy"] == "https-only"
    assert api["CachePolicyId"] == CACHING_DISABLED and api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
    assert set(api["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    api_origin = next(o for o in cfg["Origins"] if o["Id"] == api["TargetOriginId"])
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert stack.resolve(stack.api.api_id)["Ref"] in json.dumps(api_origin["DomainName"])
    assert default["ResponseHeadersPolicyId"] == api["ResponseHeadersPolicyId"]
    (policy,) = _of_type(t, "AWS::CloudFront::ResponseHeadersPolicy").values()
    sec = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert sec["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert sec["FrameOptions"]["FrameOption"] == "DENY" and sec["ContentTypeOptions"]["Override"] is True
    csp = json.dumps(sec["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    assert "default-src 'self'" in csp and "cognito-idp." in csp and "frame-ancestors 'none'" in csp


def test_the_app_and_its_config_json_are_deployed(synth: tuple[SmsdeskStack, dict, Path]) -> None:
    stack, t, _ = synth
    (deploy,) = _of_type(t, "Custom::CDKBucketDeployment").values()
    props = deploy["Properties"]
    assert props["DestinationBucketName"] == {"Ref": stack.get_logical_id(stack.web.bucket.node.default_child)}
    assert len(props["SourceObjectKeys"]) == 2
    assert "DistributionPaths" not in props  # no invalidation grant on "*": files revalidate instead
    assert any("max-age=0" in str(m) for m in props["SystemMetadata"].values())
    markers = json.dumps(props.get("SourceMarkers", []))
    # config.json's values are the stack's own (deploy-time markers): the client id and pool id.
    assert stack.resolve(stack.user_pool_client.user_pool_client_id)["Ref"] in markers
    assert stack.resolve(stack.user_pool.user_pool_id)["Ref"] in markers
    assert stack.web.config["cognitoEndpoint"].startswith("https://cognito-idp.")
    assert "WebUrl" in t["Outputs"]
