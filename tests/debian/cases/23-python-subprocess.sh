python3 -c '
import subprocess, sys
r = subprocess.run(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True, text=True)
print(r.returncode, r.stdout.strip(), r.stderr.strip())
p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print(p.communicate(b"piped through cat")[0].decode(), p.returncode)
print(subprocess.check_output("seq 3 | tr \"\\n\" +", shell=True).decode())'
