// The folder page's behaviour: sorting by column, uploads (file input and drag and drop, each
// file sent with PUT, a progress bar per file), new folders (PUT of "name/"), deletes, and
// refreshing the table from the server after a change. The server renders and escapes every
// row; this script only moves rows around and sets text, never HTML from strings.
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

  function sortRows() {
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

  // Fetches this folder's page again and takes its rows: one renderer, the server's.
  async function refresh() {
    const res = await fetch(folder, { headers: { Accept: "text/html" }, cache: "no-cache" });
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
    sortRows();
  }

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
    item.append(name, bar, status);
    uploadsEl.appendChild(item);
    return send(file, { item, bar, status }, null);
  }

  function failed(row, text) {
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
    const { item, bar, status } = row;
    item.classList.remove("failed", "exists");
    return new Promise(function (resolve) {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", folder + encodeURIComponent(file.name));
      if (etag === null) {
        xhr.setRequestHeader("If-None-Match", "*");
      } else {
        xhr.setRequestHeader("If-Match", etag);
      }
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable && e.total > 0) {
          bar.value = Math.round((e.loaded / e.total) * 100);
          status.textContent = bar.value + "%";
        }
      });
      xhr.addEventListener("load", function () {
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

  async function remove(button) {
    const name = button.dataset.name;
    if (!window.confirm("Delete \u201c" + name + "\u201d?")) {
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
