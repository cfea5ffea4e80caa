# Known finding: a security group rule without a description (CKV_AWS_23).
resource "aws_security_group" "canary" {
  name        = "canary"
  description = "canary"
  vpc_id      = "vpc-00000000"

  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
