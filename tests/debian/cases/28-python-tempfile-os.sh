python3 -c '
import tempfile, os, shutil, pathlib
with tempfile.TemporaryDirectory() as d:
    p = pathlib.Path(d, "x.txt"); p.write_text("content\n")
    os.symlink("x.txt", os.path.join(d, "l"))
    print(sorted(os.listdir(d)), p.read_text().strip(), os.readlink(os.path.join(d, "l")))
    shutil.copytree(d, d + "-copy"); print(sorted(os.listdir(d + "-copy"))); shutil.rmtree(d + "-copy")
    st = os.stat(p); print(st.st_size, oct(st.st_mode & 0o777))
with tempfile.NamedTemporaryFile("w+") as f:
    f.write("abc"); f.flush(); f.seek(0); print(f.read())
print(os.path.exists(d))'
