#!/usr/bin/env bash
# Sets (first run) or rotates the ElastiCache Redis AUTH token without Terraform ever holding
# it. Design and reasons: modules/redis/main.tf (top comment). Run it once right after the
# first `terraform apply` (after the migrate task), then whenever the token must rotate.
#
#   1. generate a 64-character alphanumeric token (Secrets Manager's generator)
#   2. ElastiCache: add it with strategy ROTATE (old and new token both accepted)
#   3. Secrets Manager: store it as the secret's current value
#   4. ECS: redeploy the services that use Redis, wait until they are stable on the new token
#   5. ElastiCache: strategy SET with the same token (only the new token is accepted)
#
# The token goes to the AWS CLI through file:// parameters read from pipes, never as a
# command-line argument (so it does not show in the process list), and is not written to disk.
#
# Inputs (environment variables; default: the Terraform outputs of this directory):
#   REDIS_REPLICATION_GROUP_ID   output redis_replication_group_id
#   REDIS_AUTH_TOKEN_SECRET_ARN  output redis_auth_token_secret_arn
#   ECS_CLUSTER                  output ecs_cluster_name (empty: skip step 4, e.g. on EKS,
#                                where you restart the Redis users yourself before step 5)
#   REDIS_SERVICES               default "read-api catalog-projector cart-projector"
# Needs: aws CLI v2 with rights to elasticache:ModifyReplicationGroup,
# secretsmanager:GetRandomPassword/PutSecretValue (+ kms on the secrets key), ecs:UpdateService.
set -euo pipefail

tf_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tf_output() { terraform -chdir="$tf_dir" output -raw "$1"; }

group="${REDIS_REPLICATION_GROUP_ID:-$(tf_output redis_replication_group_id)}"
secret="${REDIS_AUTH_TOKEN_SECRET_ARN:-$(tf_output redis_auth_token_secret_arn)}"
cluster="${ECS_CLUSTER-$(tf_output ecs_cluster_name 2>/dev/null || true)}"
services="${REDIS_SERVICES:-read-api catalog-projector cart-projector}"
region="$(cut -d: -f4 <<<"$secret")"

if [[ -z "$group" || -z "$secret" || "$group" == "null" || "$secret" == "null" ]]; then
  echo "no Redis replication group / secret (is create_redis on?)" >&2
  exit 1
fi

token="$(aws secretsmanager get-random-password --region "$region" \
  --password-length 64 --exclude-punctuation --require-each-included-type \
  --query RandomPassword --output text)"

modify() {
  local strategy="$1"
  echo "elasticache: $strategy the AUTH token of $group"
  aws elasticache modify-replication-group --region "$region" --output text --query 'ReplicationGroup.Status' \
    --cli-input-json "file://"<(printf '{"ReplicationGroupId":"%s","AuthToken":"%s","AuthTokenUpdateStrategy":"%s","ApplyImmediately":true}' \
      "$group" "$token" "$strategy")
  aws elasticache wait replication-group-available --region "$region" --replication-group-id "$group"
}

modify ROTATE

echo "secretsmanager: storing the new token in $secret"
aws secretsmanager put-secret-value --region "$region" --secret-id "$secret" \
  --secret-string "file://"<(printf '%s' "$token") --query VersionId --output text

if [[ -n "$cluster" && "$cluster" != "null" ]]; then
  for service in $services; do
    echo "ecs: redeploying $service"
    aws ecs update-service --region "$region" --cluster "$cluster" --service "$service" \
      --force-new-deployment --query 'service.serviceName' --output text
  done
  echo "ecs: waiting for $services to be stable on the new token"
  # shellcheck disable=SC2086 # word splitting of the service list is intended
  aws ecs wait services-stable --region "$region" --cluster "$cluster" --services $services
else
  echo "no ECS cluster: restart every Redis client now, then press Enter to retire the old token"
  read -r _
fi

modify SET
unset token
echo "done: only the token stored in $secret is accepted now"
