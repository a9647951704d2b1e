"""``WebApp``: the static web app (``web/dist``) in a private S3 bucket behind CloudFront.

* The bucket blocks all public access, accepts TLS only, is encrypted (SSE-S3) and is read by
  CloudFront alone, through an origin access control (OAC) scoped to this distribution.
* CloudFront serves HTTPS only (HTTP redirects), adds security headers (HSTS, a content security
  policy that lets the app talk only to its own origin and Cognito, nosniff, frame-deny, referrer
  policy) and routes ``/v1/*`` to the HTTP API as a second origin, uncached, with every viewer
  header except ``Host`` (API Gateway routes by its own host name), so app and API share one origin.
* SPA routing: ``index.html`` for a 403/404 from the bucket would also rewrite the API's own 403/404
  bodies (CloudFront error responses apply to every behaviour), so a CloudFront Function on the
  bucket's behaviour maps page paths (no file extension) to ``/index.html`` instead.
* ``BucketDeployment`` uploads ``web/dist`` and a ``config.json`` the stack writes (Cognito ids, region,
  Cognito endpoint; deploy-time values), then invalidates the distribution.

Synth without a build (tests, a fresh clone before ``make web``) uses a placeholder page.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from aws_cdk import Acknowledgment, Aws, CfnOutput, Duration, Fn, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.layer import REPO_ROOT

DIST = REPO_ROOT / "web" / "dist"

#: Page paths (no file extension, not /v1) are the app's routes: answer index.html.
SPA_REWRITE = """function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.indexOf('.', uri.lastIndexOf('/')) === -1) {
    request.uri = '/index.html';
  }
  return request;
}"""


def _ack(scope: Construct, acks: list[dict[str, str]]) -> None:
    for a in acks:
        Validations.of(scope).acknowledge(Acknowledgment(id=a["id"], reason=a["reason"]))


def dist_dir() -> Path:
    """``web/dist`` when built, else a placeholder directory (synth must not need npm)."""
    if (DIST / "index.html").is_file():
        return DIST
    placeholder = Path(tempfile.mkdtemp(prefix="smsdesk-web-placeholder-"))
    (placeholder / "index.html").write_text(
        "<!doctype html><title>smsdesk</title><p>The web app was not built: run <code>make web</code>, then deploy."
    )
    return placeholder


class WebApp(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        stage: str,
        api: apigw.HttpApi,
        user_pool: cognito.UserPool,
        user_pool_client: cognito.UserPoolClient,
        source: Path | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        _ack(
            self.bucket,
            [
                {
                    "id": "AwsSolutions-S1",
                    "reason": "Static build output, rewritten on every deploy and read only through CloudFront; "
                    "requests are visible in CloudFront's metrics. Server access logs would need a second bucket.",
                }
            ],
        )
        cognito_host = f"cognito-idp.{Aws.REGION}.amazonaws.com"
        csp = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' https://{cognito_host}; frame-ancestors 'none'; base-uri 'self'; "
            "form-action 'self'; object-src 'none'"
        )
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            response_headers_policy_name=f"{prefix}-web-security",
            comment="smsdesk web app: security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=csp, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True
                ),
            ),
        )
        rewrite = cloudfront.Function(
            self,
            "SpaRewrite",
            code=cloudfront.FunctionCode.from_inline(SPA_REWRITE),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="smsdesk: app routes -> /index.html",
        )
        api_domain = Fn.select(2, Fn.split("/", api.api_endpoint))  # https://<id>.execute-api.<region>.amazonaws.com
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{prefix} web app and API",
            default_root_object="index.html",
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
                compress=True,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=rewrite, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            additional_behaviors={
                "/v1/*": cloudfront.BehaviorOptions(
                    origin=origins.HttpOrigin(api_domain, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=headers,
                    compress=True,
                )
            },
        )
        _ack(
            self.distribution,
            [
                {
                    "id": "AwsSolutions-CFR1",
                    "reason": "Agents work from anywhere; no country is excluded by default.",
                },
                {
                    "id": "AwsSolutions-CFR2",
                    "reason": "WAF is billed per web ACL and request; the API has its own throttling and Cognito "
                    "auth. Operators attach a web ACL when they need one.",
                },
                {
                    "id": "AwsSolutions-CFR3",
                    "reason": "Access logs are optional (a log bucket per stage); CloudFront metrics are on.",
                },
                {
                    "id": "AwsSolutions-CFR4",
                    "reason": "Without a custom domain the distribution uses the default *.cloudfront.net "
                    "certificate, whose TLS policy CloudFront fixes (TLSv1); TLS 1.2 applies with a custom domain.",
                },
            ],
        )
        region = Aws.REGION
        self.config = {
            "region": region,
            "userPoolId": user_pool.user_pool_id,
            "userPoolClientId": user_pool_client.user_pool_client_id,
            "cognitoEndpoint": f"https://cognito-idp.{region}.amazonaws.com/",
            "apiBase": "",
            "stage": stage,
        }
        # The deployment's Lambda gets a role of ours: no managed policy, logs only to its own group.
        # No CloudFront invalidation (that grant is on Resource "*"): every file is stored with
        # "max-age=0, must-revalidate", which CachingOptimized honours (1 s minimum TTL), so a deploy
        # shows at once and unchanged files are answered 304 from the edge.
        handler_logs = logs.LogGroup(
            self, "DeployLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        self.deploy_role = iam.Role(
            self,
            "DeployRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{prefix}: CDK BucketDeployment of the web app",
        )
        handler_logs.grant_write(self.deploy_role)
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deploy",
            sources=[
                s3deploy.Source.asset(str(source or dist_dir())),
                s3deploy.Source.json_data("config.json", self.config),
            ],
            destination_bucket=self.bucket,
            cache_control=[s3deploy.CacheControl.from_string("public, max-age=0, must-revalidate")],
            prune=True,
            memory_limit=256,
            role=self.deploy_role,
            log_group=handler_logs,
        )
        self._ack_deployment_handler()
        self.url = f"https://{self.distribution.distribution_domain_name}/"
        CfnOutput(scope, "WebUrl", value=self.url, description="The web app (and the API under /v1/) via CloudFront")

    def _ack_deployment_handler(self) -> None:
        """CDK's BucketDeployment Lambda is its own singleton (one per stack, outside this construct):
        acknowledge its findings one by one, as cdk-nag renders them."""
        stack = Stack.of(self)
        # Environment-agnostic: tokens; pinned to a region: the region and partition as literals.
        pinned = not Token.is_unresolved(stack.region)
        region, partition = (stack.region, "aws") if pinned else ("<AWS::Region>", "<AWS::Partition>")
        bucket = stack.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        resources = [
            "*",
            f"<{bucket}.Arn>/*",
            f"arn:{partition}:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-{region}/*",
        ]
        actions = ["s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*"]
        copy = (
            "CDK's BucketDeployment handler copies the asset prefix into the web bucket (object wildcards of those "
            "two buckets, S3 action groups as aws-cdk-lib grants them) and invalidates the distribution (Resource *)."
        )
        acks = [
            {
                "id": "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "reason": "CDK's BucketDeployment handler logs with AWSLambdaBasicExecutionRole.",
            },
            {"id": "AwsSolutions-L1", "reason": "CDK's BucketDeployment handler runtime is chosen by aws-cdk-lib."},
            *({"id": f"AwsSolutions-IAM5[Action::{a}]", "reason": copy} for a in actions),
            *({"id": f"AwsSolutions-IAM5[Resource::{r}]", "reason": copy} for r in resources),
        ]
        _ack(self.deploy_role, acks)
        for child in stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                _ack(child, acks)
