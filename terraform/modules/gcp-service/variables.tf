variable "settings" {
  description = "modules/plan's gcp_service output: names, the database location, functions, identities, grants and the stage's settings."
  type        = any
}

variable "source_archive" {
  description = "The functions' source archive that `make gcp-package` builds (build/gcp/functions.zip): the functions' code, main.py and the pinned requirements.txt."
  type        = string

  validation {
    condition     = fileexists(var.source_archive)
    error_message = "The functions' source archive is missing: run `make gcp-package` first (it writes build/gcp/functions.zip)."
  }
}
