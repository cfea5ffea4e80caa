terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # No backend is configured here on purpose. Add one per environment outside version
  # control or with partial configuration, e.g.
  #   terraform init -backend-config=backend.hcl
  # with an S3 bucket + DynamoDB lock table; never commit credentials.
}
