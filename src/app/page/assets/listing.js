// The folder page's behaviour: sorting by column, times in the viewer's own time zone (the
// server writes UTC), uploads (file input and drag and drop, each file sent with PUT, a
// progress bar with speed and time left, a Cancel button), new folders (PUT of "name/"),
// deletes, and refreshing the table from the server after a change. The server renders and
// escapes every row; this script moves rows around, gives each its action menu (from a
// template), and sets text and attributes, never HTML from strings.
"use strict";

(function () {
  const body = document.body;
  const canWrite = body.dataset.canWrite === "true";
  const rowsEl = document.getElementById("rows");
  const errorEl = document.getElementById("error");
  const uploadsEl = document.getElementById("uploads");
  const overlay = document.getElementById("drop-overlay");
  // The folder's URL as the server wrote it (percent-encoded, with its trailing slash).
  const folder = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
  let sortKey = "name";
  let sortDir = 1;

  function showError(text) {
    errorEl.textContent = text;
    errorEl.hidden = false;
  }

  function clearError() {
    errorEl.textContent = "";
    errorEl.hidden = true;
  }

  // The server's own words for a failure (its answers carry a one-line text body).
  function reason(status, text) {
    const said = (text || "").trim();
    if (status === 412) {
      return "it exists already (delete it first)";
    }
    return said || "the server answered " + status;
  }

  // Sorting: folders always first, then by the chosen column.
  function compare(a, b) {
    const dirs = (b.dataset.type === "dir") - (a.dataset.type === "dir");
    if (dirs !== 0) {
      return dirs;
    }
    let order;
    if (sortKey === "name") {
      order = a.dataset.name.localeCompare(b.dataset.name, undefined, { sensitivity: "base", numeric: true });
    } else {
      order = Number(a.dataset[sortKey]) - Number(b.dataset[sortKey]);
      if (order === 0) {
        order = a.dataset.name.localeCompare(b.dataset.name);
      }
    }
    return order * sortDir;
  }

  // Times: the server writes "2026-11-23 20:58" in UTC; show the viewer's local time, with the
  // UTC one in the tooltip.
  const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  function localTimes() {
    for (const el of rowsEl.querySelectorAll("time[datetime]")) {
      const when = new Date(el.getAttribute("datetime"));
      if (!Number.isNaN(when.getTime()) && !el.dataset.local) {
        el.title = el.textContent + " UTC";
        el.textContent = timeFormat.format(when);
        el.dataset.local = "true";
      }
    }
  }
  const timeHeading = document.querySelector("th.mtime button");
  if (timeHeading) {
    timeHeading.textContent = "Modified";
  }

  // Sizes and rates in the units of the size column.
  function human(bytes) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let n = bytes;
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i += 1;
    }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
  }

  function duration(seconds) {
    if (!Number.isFinite(seconds)) {
      return "";
    }
    const s = Math.max(1, Math.round(seconds));
    if (s < 60) {
      return s + " s";
    }
    if (s < 3600) {
      return Math.floor(s / 60) + " min " + (s % 60) + " s";
    }
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  // Each row's actions, made here from the row (the server sends the row's link only, which
  // is all a page without script can use): a menu of Open (a folder) or Download (a file),
  // Rename and Delete, Delete last, cloned from the page's template and filled with text and
  // attributes only.
  const actionsTemplate = document.getElementById("row-actions").content.firstElementChild;
  function addActions() {
    for (const row of rowsEl.querySelectorAll("tr[data-name]")) {
      const cell = row.querySelector("td.actions");
      const link = row.querySelector("a.entry");
      if (!cell || !link || cell.firstElementChild) {
        continue;
      }
      const name = row.dataset.name;
      const url = link.getAttribute("href");
      const isDir = row.dataset.type === "dir";
      const menu = actionsTemplate.cloneNode(true);
      menu.querySelector("summary").setAttribute("aria-label", "Actions for " + name);
      menu.querySelector(isDir ? "a.download" : "a.open").remove();
      const go = menu.querySelector(isDir ? "a.open" : "a.download");
      go.setAttribute("href", url);
      go.setAttribute("aria-label", (isDir ? "Open " : "Download ") + name);
      if (!isDir) {
        go.setAttribute("download", name);
      }
      menu.querySelector("button.rename").setAttribute("aria-label", "Rename " + name);
      const del = menu.querySelector("button.delete");
      del.dataset.url = url;
      del.dataset.name = name;
      del.setAttribute("aria-label", "Delete " + name);
      cell.appendChild(menu);
    }
  }

  // Row actions: in a row on wide screens (every menu open, its button hidden), behind one
  // button each on narrow ones.
  const wide = window.matchMedia("(min-width: 641px)");
  function layoutActions() {
    body.classList.toggle("wide", wide.matches);
    for (const menu of rowsEl.querySelectorAll("details.more")) {
      menu.open = wide.matches;
    }
  }
  wide.addEventListener("change", layoutActions);
  // On a narrow screen one menu is open at a time.
  rowsEl.addEventListener("toggle", function (e) {
    if (wide.matches || !e.target.open) {
      return;
    }
    for (const menu of rowsEl.querySelectorAll("details.more[open]")) {
      if (menu !== e.target) {
        menu.open = false;
      }
    }
  }, true);

  function sortRows() {
    localTimes();
    addActions();
    layoutActions();
    const rows = Array.from(rowsEl.querySelectorAll("tr[data-name]"));
    rows.sort(compare);
    for (const row of rows) {
      rowsEl.appendChild(row);
    }
    for (const th of document.querySelectorAll("th[data-key]")) {
      if (th.dataset.key === sortKey) {
        th.setAttribute("aria-sort", sortDir === 1 ? "ascending" : "descending");
      } else {
        th.removeAttribute("aria-sort");
      }
    }
  }

  for (const th of document.querySelectorAll("th[data-key]")) {
    th.querySelector("button").addEventListener("click", function () {
      if (sortKey === th.dataset.key) {
        sortDir = -sortDir;
      } else {
        sortKey = th.dataset.key;
        sortDir = 1;
      }
      sortRows();
    });
  }

  // Fetches this folder's page again (as shown now: the folder, or a search in it) and takes
  // its rows: one renderer, the server's.
  function refresh() {
    return show(folder + location.search);
  }

  async function show(url) {
    const res = await fetch(url, { headers: { Accept: "text/html" }, cache: "no-cache" });
    if (!res.ok) {
      showError("Could not reload the folder: " + reason(res.status, await res.text()));
      return;
    }
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = doc.getElementById("rows");
    if (fresh) {
      rowsEl.replaceChildren(...Array.from(fresh.childNodes, (n) => document.importNode(n, true)));
    }
    const count = doc.getElementById("count");
    if (count) {
      document.getElementById("count").textContent = count.textContent;
    }
    const notices = doc.getElementById("notices");
    if (notices) {
      document.getElementById("notices").replaceChildren(
        ...Array.from(notices.childNodes, (n) => document.importNode(n, true)));
    }
    document.title = doc.title;
    sortRows();
  }

  // Search without reloading the page (the form works without script too: a plain GET).
  document.getElementById("search").addEventListener("submit", function (e) {
    e.preventDefault();
    clearError();
    const q = document.getElementById("q").value.trim();
    const url = folder + (q === "" ? "" : "?q=" + encodeURIComponent(q));
    history.replaceState(null, "", url);
    show(url);
  });

  // One upload: PUT with a progress bar. If-None-Match: * never overwrites a file silently:
  // when the name is taken, the row offers "Replace", which sends the file again with If-Match
  // on the tag of the file that is there, so that one changed meanwhile is not lost either.
  function upload(file) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.className = "file";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    const status = document.createElement("span");
    status.className = "status";
    status.textContent = "waiting";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "cancel";
    cancel.textContent = "Cancel";
    cancel.setAttribute("aria-label", "Cancel the upload of " + file.name);
    item.append(name, bar, status, cancel);
    uploadsEl.appendChild(item);
    return send(file, { item, bar, status, cancel }, null);
  }

  function failed(row, text) {
    row.cancel.hidden = true;
    row.item.classList.add("failed");
    row.status.textContent = "failed: " + text;
    return false;
  }

  // The name is taken (a 412): say by what, and offer to replace a file that is there.
  // `refused`: the tag a Replace was refused with (null for a first upload).
  async function taken(file, row, refused) {
    const url = folder + encodeURIComponent(file.name);
    let res;
    try {
      // A folder answers with a redirect to its listing; "manual" keeps it from being followed.
      res = await fetch(url, { method: "HEAD", redirect: "manual", cache: "no-cache" });
    } catch (e) {
      return failed(row, "the connection was lost");
    }
    if (res.type === "opaqueredirect") {
      return failed(row, "a folder has that name");
    }
    if (res.status === 404) {
      // Gone meanwhile: send it as a new file after all.
      return send(file, row, null);
    }
    const etag = res.headers.get("ETag");
    if (!res.ok || !etag) {
      return failed(row, reason(res.status, ""));
    }
    if (etag === refused || etag.startsWith("W/")) {
      // A tag that cannot match (rewritten on the way, by a proxy): asking again would loop.
      return failed(row, "the file there cannot be replaced from here; delete it first");
    }
    row.bar.value = 0;
    row.item.classList.add("exists");
    row.status.textContent = refused !== null
      ? "the file there changed meanwhile"
      : "a file has that name already";
    const again = document.createElement("button");
    again.type = "button";
    again.className = "replace";
    again.textContent = "Replace";
    again.addEventListener("click", function () {
      again.remove();
      clearError();
      send(file, row, etag).then(refresh);
    });
    row.item.appendChild(again);
    return false;
  }

  // Sends the file: as a new one (`etag` null: If-None-Match: *), or over the file whose tag
  // is `etag` (If-Match).
  function send(file, row, etag) {
    const { item, bar, status, cancel } = row;
    item.classList.remove("failed", "exists");
    return new Promise(function (resolve) {
      const xhr = new XMLHttpRequest();
      // Cancelling closes the connection mid-body: the server removes what it had stored, and
      // the file that was there (if any) stays as it was.
      cancel.hidden = false;
      cancel.onclick = function () {
        xhr.abort();
      };
      xhr.addEventListener("abort", function () {
        cancel.hidden = true;
        item.classList.add("failed");
        status.textContent = "cancelled";
        resolve(false);
      });
      const started = performance.now();
      xhr.open("PUT", folder + encodeURIComponent(file.name));
      if (etag === null) {
        xhr.setRequestHeader("If-None-Match", "*");
      } else {
        xhr.setRequestHeader("If-Match", etag);
      }
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable && e.total > 0) {
          bar.value = Math.round((e.loaded / e.total) * 100);
          const seconds = (performance.now() - started) / 1000;
          let text = bar.value + "%";
          if (seconds > 0.5 && e.loaded > 0 && e.loaded < e.total) {
            const rate = e.loaded / seconds;
            text += " \u00b7 " + human(rate) + "/s \u00b7 " + duration((e.total - e.loaded) / rate) + " left";
          }
          status.textContent = text;
        }
      });
      xhr.addEventListener("load", function () {
        cancel.hidden = true;
        if (xhr.status === 201 || xhr.status === 204) {
          bar.value = 100;
          item.classList.add("done");
          status.textContent = etag === null ? "uploaded" : "replaced";
          resolve(true);
        } else if (xhr.status === 412) {
          resolve(taken(file, row, etag));
        } else {
          resolve(failed(row, reason(xhr.status, xhr.responseText)));
        }
      });
      xhr.addEventListener("error", function () {
        cancel.hidden = true;
        resolve(failed(row, "the connection was lost"));
      });
      status.textContent = "0%";
      xhr.send(file);
    });
  }

  async function uploadAll(files) {
    clearError();
    const list = Array.from(files);
    if (list.length === 0) {
      return;
    }
    await Promise.all(list.map(upload));
    await refresh();
  }

  async function makeFolder(event) {
    event.preventDefault();
    clearError();
    const input = document.getElementById("folder-name");
    const name = input.value.trim();
    if (name === "") {
      return;
    }
    const res = await fetch(folder + encodeURIComponent(name) + "/", {
      method: "PUT",
      headers: { "If-None-Match": "*" },
      body: "",
    });
    if (res.status === 201) {
      input.value = "";
      await refresh();
    } else {
      showError("Could not make the folder \u201c" + name + "\u201d: " + reason(res.status, await res.text()));
    }
  }

  // How many entries a folder holds (from its JSON listing), or null if that cannot be read.
  async function entriesIn(url) {
    try {
      const res = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-cache" });
      return res.ok ? (await res.json()).length : null;
    } catch (e) {
      return null;
    }
  }

  async function remove(button) {
    const name = button.dataset.name;
    const row = button.closest("tr");
    let question = "Delete \u201c" + name + "\u201d?";
    if (row && row.dataset.type === "dir") {
      // A folder goes with everything in it: say how much before asking.
      const count = await entriesIn(button.dataset.url);
      if (count !== null && count > 0) {
        question = "Delete the folder \u201c" + name + "\u201d and the " + count +
          (count === 1 ? " entry" : " entries") + " in it?";
      }
    }
    if (!window.confirm(question)) {
      return;
    }
    clearError();
    const res = await fetch(button.dataset.url, { method: "DELETE" });
    if (res.status === 204 || res.status === 404) {
      await refresh();
    } else {
      showError("Could not delete \u201c" + name + "\u201d: " + reason(res.status, await res.text()));
    }
  }

  // Rename, or move within the share ("sub/new name"): WebDAV's MOVE, never over something
  // that is there (Overwrite: F).
  async function rename(button) {
    const del = button.closest("tr").querySelector("button.delete");
    const url = del.dataset.url;
    const isDir = url.endsWith("/");
    const path = isDir ? url.slice(0, -1) : url;
    const parent = path.slice(0, path.lastIndexOf("/") + 1);
    const current = decodeURIComponent(path.slice(parent.length));
    const wanted = window.prompt("New name for \u201c" + current + "\u201d (a/b moves it into folder a):", current);
    if (wanted === null || wanted.trim() === "" || wanted.trim() === current) {
      return;
    }
    clearError();
    const target = parent + wanted.trim().split("/").map(encodeURIComponent).join("/") + (isDir ? "/" : "");
    const res = await fetch(url, {
      method: "MOVE",
      headers: { Destination: target, Overwrite: "F" },
    });
    if (res.status === 201 || res.status === 204) {
      await refresh();
    } else if (res.status === 412) {
      showError("Could not rename \u201c" + current + "\u201d: something has that name already.");
    } else {
      showError("Could not rename \u201c" + current + "\u201d: " + reason(res.status, await res.text()));
    }
  }

  // Where a WebDAV client (Finder, Explorer, GNOME Files, davfs2, rclone) mounts the share.
  const mount = document.getElementById("mount");
  if (mount) {
    mount.textContent = "Mount these files as a drive (WebDAV): " + location.origin + "/files/";
    mount.hidden = false;
  }

  if (canWrite) {
    document.getElementById("file-input").addEventListener("change", function (e) {
      const files = e.target.files;
      uploadAll(files).finally(function () {
        e.target.value = "";
      });
    });
    document.getElementById("new-folder").addEventListener("submit", makeFolder);
    rowsEl.addEventListener("click", function (e) {
      const button = e.target.closest("button.delete");
      if (button) {
        remove(button);
      }
      const renaming = e.target.closest("button.rename");
      if (renaming) {
        rename(renaming);
      }
    });

    // Drag and drop anywhere on the page. The counter copes with enter/leave on children.
    let depth = 0;
    const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes("Files");
    document.addEventListener("dragenter", function (e) {
      if (hasFiles(e)) {
        depth += 1;
        overlay.hidden = false;
      }
    });
    document.addEventListener("dragleave", function (e) {
      if (hasFiles(e)) {
        depth = Math.max(0, depth - 1);
        overlay.hidden = depth === 0;
      }
    });
    document.addEventListener("dragover", function (e) {
      if (hasFiles(e)) {
        e.preventDefault();
        e.dataTransfer.dropEffect = "copy";
      }
    });
    document.addEventListener("drop", function (e) {
      depth = 0;
      overlay.hidden = true;
      if (e.dataTransfer && e.dataTransfer.files.length > 0) {
        e.preventDefault();
        uploadAll(e.dataTransfer.files);
      }
    });
  }

  sortRows();
})();
