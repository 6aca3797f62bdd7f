// Tab lists: a click selects its tab and shows its panel, hiding the others of the same list.

/** Bind every [role=tab] under `root`; `onSelect(tab)` is called after each selection. */
export function bindTabs(root, onSelect = () => {}) {
  const tabs = [...root.querySelectorAll("[role=tab]")];
  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      for (const other of tabs) {
        const selected = other === tab;
        other.setAttribute("aria-selected", String(selected));
        root.querySelector(`#${other.getAttribute("aria-controls")}`).hidden = !selected;
      }
      onSelect(tab);
    });
  }
}
