-- Whose change a patch is, when the base distribution's (or Fedora's) dist-git was compared:
-- JSON {kind: inherited|from-fedora|derived-from, distro, branch, file}; NULL is ours.
ALTER TABLE patches ADD COLUMN origin TEXT;
