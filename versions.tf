terraform {
  # Tested with Terraform 1.0.3 and hashicorp/aws 3.39.0 (the offline toolchain in this repository); every
  # argument used exists in aws provider 3.39 through 6.x.
  required_version = ">= 1.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39"
    }
  }
}
