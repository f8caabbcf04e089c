package main

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/apiv1"
	"github.com/spf13/cobra"
)

// remotePath turns a path as users type it ("/docs/a.txt", "docs/") into
// the API's form: no leading or trailing slash; "" is the root.
func remotePath(p string) string { return strings.Trim(p, "/") }

func (a *app) putCmd() *cobra.Command {
	var (
		mimeType string
		parents  bool
	)
	cmd := &cobra.Command{
		Use:   "put MIMEI LOCAL|- [DEST]",
		Short: "Upload a file or a directory into a MiMei",
		Long: `Upload a local file, a local directory or standard input ("-") into a
MiMei's file space.

A file goes to DEST (default: its base name at the root), keeping its
modification time. A DEST ending in "/" is a directory: the file goes into
it under its base name, and the directory is made if missing ("peer put m
notes.txt docs/" makes /docs/notes.txt). Otherwise DEST's directory must
exist, unless -p is given.

A directory is streamed as a tar archive of its regular files and
subdirectories. Symbolic links, special files and entries whose names the
node refuses (control characters, invalid UTF-8, over 255 bytes) are
skipped: the first few are named, then counted. DEST is the directory its
contents go into (default: its base name at the root): "peer put m photos" makes /photos,
"peer put m photos albums/2024" fills /albums/2024, "peer put m photos /"
fills the root.

Standard input ("-") needs DEST.`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			mid, local := args[0], args[1]
			dest, hasDest := "", len(args) == 3
			if hasDest {
				dest = args[2]
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			opts := apiclient.PutOptions{MIME: mimeType, Parents: parents}
			if local == "-" {
				if !hasDest || remotePath(dest) == "" || strings.HasSuffix(dest, "/") {
					return errors.New("uploading standard input needs a destination file path")
				}
				p := a.newProgress(remotePath(dest), -1)
				fi, err := c.PutFile(ctx(), mid, remotePath(dest), readerWith(a.stdin, p), -1, opts)
				p.finish()
				if err != nil {
					return putError(c, mid, remotePath(dest), opts.Parents, err)
				}
				return a.printPut(fi)
			}
			st, err := os.Stat(local)
			if err != nil {
				return err
			}
			abs, err := filepath.Abs(local)
			if err != nil {
				return err
			}
			base := filepath.Base(abs)
			switch {
			case !hasDest:
				dest = base
			case strings.HasSuffix(dest, "/") && !st.IsDir():
				dest += base
				opts.Parents = true // DEST names a directory: make it if need be
			}
			dest = remotePath(dest)
			switch {
			case st.IsDir():
				return a.putDir(c, mid, abs, dest)
			case !st.Mode().IsRegular():
				return fmt.Errorf("%s is neither a regular file nor a directory", local)
			case dest == "":
				return errors.New("give a file path as destination, not the root directory")
			}
			f, err := os.Open(local)
			if err != nil {
				return err
			}
			defer f.Close()
			opts.ModTime = st.ModTime()
			p := a.newProgress(dest, st.Size())
			fi, err := c.PutFile(ctx(), mid, dest, readerWith(f, p), st.Size(), opts)
			p.finish()
			if err != nil {
				return putError(c, mid, dest, opts.Parents, err)
			}
			return a.printPut(fi)
		},
	}
	cmd.Flags().StringVar(&mimeType, "mime", "", "media type of the file (default: guessed by the node from the name)")
	cmd.Flags().BoolVarP(&parents, "parents", "p", false, "create missing parent directories")
	return cmd
}

// putError explains a failed upload of a file to dest: a missing directory
// (without -p) or a directory in the way are said with what to type
// instead; other errors are returned as they are.
func putError(c *apiclient.Client, mid, dest string, parents bool, err error) error {
	var e *apiclient.Error
	if !errors.As(err, &e) {
		return err
	}
	dir := path.Dir(dest)
	switch {
	case e.Code == apiv1.CodeIsDir:
		return fmt.Errorf("/%s is a directory in %s: give %s/ as DEST to put the file into it", dest, mid, dest)
	case e.Code != apiv1.CodeNotFound || parents || dir == ".":
		return err
	}
	// Not found: the MiMei, or DEST's directory? Ask, to say which.
	if _, serr := c.Stat(ctx(), mid, "", ""); serr != nil {
		return err
	}
	var se *apiclient.Error
	if _, serr := c.Stat(ctx(), mid, "", dir); !errors.As(serr, &se) || se.Code != apiv1.CodeNotFound {
		return err
	}
	return fmt.Errorf("%s has no directory /%s: give -p to make it (peer put -p %s …), or end DEST with / to put the file into a directory made for it", mid, dir, mid)
}

func (a *app) printPut(fi apiv1.FileInfo) error {
	if a.jsonOut {
		return a.printJSON(fi)
	}
	fmt.Fprintf(a.stdout, "%s  %s\n", shownName(fi.Path), fmtBytes(fi.Size))
	return nil
}

// errImportEnded stops the tar writer when the node has answered.
var errImportEnded = errors.New("the import request ended")

// putDir streams dir as a tar archive into the MiMei under dest.
// The progress bar counts the bytes of the files read into the archive,
// of the sum of their sizes: the figure the closing line gives.
func (a *app) putDir(c *apiclient.Client, mid, dir, dest string) error {
	p := a.newProgress(filepath.Base(dir)+"/", fileBytes(dir))
	skipped := newSkipNotes(a.stderr, p)
	pr, pw := io.Pipe()
	walked := make(chan error, 1)
	go func() {
		err := writeTar(pw, dir, p, skipped)
		pw.CloseWithError(err)
		walked <- err
	}()
	res, err := c.Import(ctx(), mid, dest, pr)
	pr.CloseWithError(errImportEnded) // unblocks the writer if the node answered early
	walkErr := <-walked
	p.finish()
	skipped.finish()
	var apiErr *apiclient.Error
	switch {
	case errors.As(err, &apiErr):
		return err
	case walkErr != nil && !errors.Is(walkErr, errImportEnded):
		return fmt.Errorf("reading %s: %w", dir, walkErr)
	case err != nil:
		return err
	}
	if a.jsonOut {
		return a.printJSON(res)
	}
	line := fmt.Sprintf("%s  %s, %s, %s", shownName("/"+dest), quantity(res.Files, "file"), quantity(res.Dirs, "directory"), fmtBytes(res.Bytes))
	if s := skipped.summary(); s != "" {
		line += "; " + s
	}
	fmt.Fprintln(a.stdout, line)
	return nil
}

// fileBytes sums the sizes of the regular files beneath dir: what
// writeTar will read of them, for a progress bar.
func fileBytes(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(name string, d fs.DirEntry, err error) error {
		if err == nil && name != dir && nameProblem(d.Name()) != "" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

// writeTar writes the regular files and directories beneath dir to w as
// a tar archive, with names relative to dir. It counts the bytes of the
// files it reads on p and reports what it skips (symbolic links, devices,
// sockets) to skipped; either may be nil.
func writeTar(w io.Writer, dir string, p *progress, skipped *skipNotes) error {
	// Headers and small files are many small writes; batch them so the
	// pipe to the upload is not a goroutine hand-off per 512 bytes.
	bw := bufio.NewWriterSize(w, 256<<10)
	tw := tar.NewWriter(bw)
	err := filepath.WalkDir(dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, name)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if why := nameProblem(d.Name()); why != "" {
			// The node would refuse the whole archive for it.
			skipped.skip("bad name", shownName(name), why)
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()})
		case info.Mode().IsRegular():
			f, err := os.Open(name)
			if err != nil {
				return err
			}
			defer f.Close()
			hdr := &tar.Header{Typeflag: tar.TypeReg, Name: rel, Size: info.Size(), Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if _, err := io.CopyN(tw, readerWith(f, p), hdr.Size); err != nil {
				return fmt.Errorf("%s: %w (did it change while being sent?)", name, err)
			}
			return nil
		case info.Mode()&fs.ModeSymlink != 0:
			skipped.skip("symbolic link", shownName(name), "")
		default:
			skipped.skip("special file", shownName(name), "not a regular file or directory")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// parseRange reads START-END (inclusive, as in HTTP) or START- into an
// offset and a length (-1: to the end).
func parseRange(s string) (off, length int64, err error) {
	a, b, ok := strings.Cut(s, "-")
	if ok {
		off, err = strconv.ParseInt(a, 10, 64)
	}
	if !ok || err != nil || off < 0 {
		return 0, 0, fmt.Errorf("bad --range %q: give START-END or START- in bytes, e.g. 0-1023", s)
	}
	if b == "" {
		return off, -1, nil
	}
	end, err := strconv.ParseInt(b, 10, 64)
	if err != nil || end < off {
		return 0, 0, fmt.Errorf("bad --range %q: END must be a byte offset not before START", s)
	}
	return off, end - off + 1, nil
}

func (a *app) getCmd() *cobra.Command {
	var (
		version string
		rng     string
		force   bool
	)
	cmd := &cobra.Command{
		Use:   "get MIMEI PATH [LOCAL|-]",
		Short: "Download a file from a MiMei",
		Long: `Download a file of a MiMei to LOCAL (default: its base name in the current
directory; into LOCAL if that is a directory) or to standard output ("-").

An existing file is not overwritten unless --force is given. The download is
written to a temporary file next to LOCAL and renamed when complete, so a
failed download leaves nothing half-written.`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			mid, remote := args[0], remotePath(args[1])
			if remote == "" {
				return errors.New("give the path of a file to download")
			}
			off, length := int64(0), int64(-1)
			if rng != "" {
				var err error
				if off, length, err = parseRange(rng); err != nil {
					return err
				}
			}
			local := path.Base(remote)
			if len(args) == 3 {
				local = args[2]
			}
			toStdout := local == "-"
			if !toStdout {
				if st, err := os.Stat(local); err == nil && st.IsDir() {
					local = filepath.Join(local, path.Base(remote))
				}
				if _, err := os.Lstat(local); err == nil && !force {
					return fmt.Errorf("%s exists: give --force to overwrite it", local)
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			d, err := c.OpenFile(ctx(), mid, version, remote, off, length)
			if err != nil {
				return err
			}
			defer d.Body.Close()
			p := a.newProgress(path.Base(remote), d.Length)
			var n int64
			if toStdout {
				n, err = io.Copy(a.stdout, readerWith(d.Body, p))
			} else {
				n, err = writeAtomic(local, readerWith(d.Body, p), d)
			}
			p.finish()
			if err == nil && d.Length >= 0 && n != d.Length {
				err = fmt.Errorf("download of %s ended after %d of %d bytes", shownName(remote), n, d.Length)
			}
			if err != nil {
				return err
			}
			switch {
			case a.jsonOut && !toStdout:
				return a.printJSON(map[string]any{"path": remote, "local": local, "bytes": n, "offset": d.Offset,
					"size": d.Size, "root": d.Root, "mime": d.MIME, "mod_time": d.ModTime})
			case !toStdout:
				fmt.Fprintf(a.stdout, "%s  %s\n", shownName(local), fmtBytes(n))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "version to read: cur (default), last, release or a number")
	cmd.Flags().StringVar(&rng, "range", "", "download only bytes START-END (inclusive) or START- of the file")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "overwrite an existing local file")
	return cmd
}

// writeAtomic writes r to a temporary file beside name and renames it into
// place once complete; on failure it removes the temporary file.
func writeAtomic(name string, r io.Reader, d *apiclient.Download) (n int64, err error) {
	dir, base := filepath.Split(name)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".peer-*.part")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if n, err = io.Copy(f, r); err != nil {
		return n, err
	}
	if d.Length >= 0 && n != d.Length {
		return n, fmt.Errorf("download ended after %d of %d bytes", n, d.Length)
	}
	if err = f.Sync(); err != nil {
		return n, err
	}
	if err = f.Close(); err != nil {
		return n, err
	}
	if !d.ModTime.IsZero() && d.Offset == 0 && d.Length == d.Size {
		_ = os.Chtimes(f.Name(), d.ModTime, d.ModTime)
	}
	return n, os.Rename(f.Name(), name)
}

func (a *app) lsCmd() *cobra.Command {
	var (
		version string
		long    bool
	)
	cmd := &cobra.Command{
		Use:   "ls MIMEI [PATH]",
		Short: "List a directory of a MiMei",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := ""
			if len(args) == 2 {
				p = remotePath(args[1])
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if a.jsonOut {
				fl, err := c.List(ctx(), args[0], version, p) // every page in one answer
				if err != nil {
					return err
				}
				return a.printJSON(fl)
			}
			// The node answers a page at a time: each is printed as it
			// comes, so a huge directory is never held whole.
			first := true
			return c.ListPages(ctx(), args[0], version, p, 0, func(fl apiv1.FileList) error {
				if first && fl.Received {
					fmt.Fprintf(a.stderr, "showing version %s (received; no local working copy)\n", fl.Version)
				}
				first = false
				if !long {
					for _, e := range fl.Entries {
						fmt.Fprintln(a.stdout, entryName(e))
					}
					return nil
				}
				// The columns before the name have fixed widths, so
				// pages flushed one by one line up.
				tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				for _, e := range fl.Entries {
					kind, size := "-", strconv.FormatInt(e.Size, 10)
					if e.Dir {
						kind, size = "d", "-"
					}
					fmt.Fprintf(tw, "%s %12s\t%s\t%s\n", kind, size, e.ModTime.Local().Format("2006-01-02 15:04"), entryName(e))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "version to list: cur (default), last, release or a number")
	cmd.Flags().BoolVarP(&long, "long", "l", false, "show kind, size and modification time")
	return cmd
}

func entryName(e apiv1.FileInfo) string {
	if e.Dir {
		return shownName(e.Name + "/")
	}
	return shownName(e.Name)
}

func (a *app) statCmd() *cobra.Command {
	var version string
	cmd := &cobra.Command{
		Use:   "stat MIMEI PATH",
		Short: "Describe a file or directory of a MiMei",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			fi, err := c.Stat(ctx(), args[0], version, remotePath(args[1]))
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(fi)
			}
			kind := "file"
			if fi.Dir {
				kind = "directory"
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "path:\t%s\n", shownName("/"+fi.Path))
			fmt.Fprintf(tw, "kind:\t%s\n", kind)
			fmt.Fprintf(tw, "size:\t%d (%s)\n", fi.Size, fmtBytes(fi.Size))
			if fi.MIME != "" {
				fmt.Fprintf(tw, "type:\t%s\n", fi.MIME)
			}
			fmt.Fprintf(tw, "modified:\t%s\n", fi.ModTime.Local().Format("2006-01-02 15:04:05"))
			if !fi.Created.IsZero() {
				fmt.Fprintf(tw, "created:\t%s\n", fi.Created.Local().Format("2006-01-02 15:04:05"))
			}
			if fi.Root != "" {
				fmt.Fprintf(tw, "root:\t%s\n", fi.Root)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "version to read: cur (default), last, release or a number")
	return cmd
}

func (a *app) mkdirCmd() *cobra.Command {
	var parents bool
	cmd := &cobra.Command{
		Use:   "mkdir MIMEI PATH",
		Short: "Make a directory in a MiMei",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			fi, err := c.Mkdir(ctx(), args[0], remotePath(args[1]), parents)
			if err != nil || !a.jsonOut {
				return err
			}
			return a.printJSON(fi)
		},
	}
	cmd.Flags().BoolVarP(&parents, "parents", "p", false, "make missing parents too; no error if the directory exists")
	return cmd
}

func (a *app) mvCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "mv MIMEI FROM TO",
		Short: "Move or rename a file or directory in a MiMei",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			fi, err := c.Move(ctx(), args[0], remotePath(args[1]), remotePath(args[2]))
			if err != nil || !a.jsonOut {
				return err
			}
			return a.printJSON(fi)
		},
	}
}

func (a *app) rmCmd() *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "rm MIMEI PATH",
		Short: "Remove a file or directory from a MiMei",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			return c.Remove(ctx(), args[0], remotePath(args[1]), recursive)
		},
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "remove a directory and everything beneath it")
	return cmd
}
