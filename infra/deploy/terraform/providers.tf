# Credentials come from the standard AWS chain (environment, SSO profile, instance/OIDC role).
# Nothing is hard-coded here.
provider "aws" {
  region = var.region

  default_tags {
    tags = merge(
      {
        Project     = var.name_prefix
        Environment = var.environment
        ManagedBy   = "terraform"
      },
      var.tags,
    )
  }
}
