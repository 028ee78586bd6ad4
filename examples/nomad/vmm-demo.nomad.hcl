# `vmm run` as a Nomad task (raw_exec driver, which must be enabled on the client): Nomad
# starts it, sends SIGTERM to stop it (vmm stops the guest gracefully, then harder) and
# restarts it by vmm's exit status (0 powered off, 2 could not start, 3 forced off, 4 crashed).
# The profile and what it names (images, kernel) must exist on the client host.
job "vm-demo" {
  datacenters = ["dc1"]
  type        = "service"

  group "vm" {
    restart {
      attempts = 3
      interval = "5m"
      delay    = "10s"
      mode     = "fail"
    }

    task "vmm" {
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/vmm"
        args    = ["run", "/etc/vmm/profiles/demo.json"]
      }

      # At least the profile's lifecycle.shutdown_timeout plus 20 s for quit and kill.
      kill_signal  = "SIGTERM"
      kill_timeout = "90s"

      env {
        VMM_RUN_DIR = "/run/vmm"
      }

      resources {
        cpu    = 2000
        memory = 640
      }
    }
  }
}
