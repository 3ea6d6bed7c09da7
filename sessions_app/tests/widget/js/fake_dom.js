/* Just enough of a DOM for render.js: elements with classes, text, attributes, children and click
 * listeners; querySelector(All) by one class name (".name"). */

class ClassList {
  constructor(node) {
    this.node = node;
  }
  names() {
    return this.node.className ? this.node.className.split(/\s+/).filter(Boolean) : [];
  }
  add(name) {
    if (!this.contains(name)) this.node.className = this.names().concat(name).join(" ");
  }
  contains(name) {
    return this.names().indexOf(name) >= 0;
  }
}

export class FakeElement {
  constructor(tagName) {
    this.tagName = tagName.toUpperCase();
    this.className = "";
    this.children = [];
    this.parentNode = null;
    this.attributes = {};
    this.listeners = {};
    this.classList = new ClassList(this);
    this.ownText = "";
    this.disabled = false;
    this.scrollTop = 0;
  }
  get scrollHeight() {
    return 1000 + this.children.length;
  }
  get textContent() {
    return this.ownText + this.children.map((child) => child.textContent).join("");
  }
  set textContent(value) {
    this.children.forEach((child) => (child.parentNode = null));
    this.children = [];
    this.ownText = String(value);
  }
  // What an HTML parser would have made of it, were it ever used: the tests assert it never is.
  get innerHTML() {
    throw new Error("render.js must not read or write HTML");
  }
  set innerHTML(value) {
    throw new Error("render.js must not read or write HTML");
  }
  appendChild(child) {
    if (child.parentNode) child.remove();
    child.parentNode = this;
    this.children.push(child);
    return child;
  }
  remove() {
    if (!this.parentNode) return;
    const siblings = this.parentNode.children;
    siblings.splice(siblings.indexOf(this), 1);
    this.parentNode = null;
  }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
  }
  getAttribute(name) {
    return name in this.attributes ? this.attributes[name] : null;
  }
  addEventListener(type, listener) {
    (this.listeners[type] = this.listeners[type] || []).push(listener);
  }
  click() {
    if (this.disabled) return;
    (this.listeners.click || []).forEach((listener) => listener({ type: "click", target: this }));
  }
  querySelectorAll(selector) {
    if (!/^\.[\w-]+$/.test(selector)) throw new Error("fake_dom selects by one class only: " + selector);
    const name = selector.slice(1);
    const found = [];
    (function walk(node) {
      node.children.forEach((child) => {
        if (child.classList.contains(name)) found.push(child);
        walk(child);
      });
    })(this);
    return found;
  }
  querySelector(selector) {
    return this.querySelectorAll(selector)[0] || null;
  }
}

export const fakeDocument = {
  createElement(tag) {
    return new FakeElement(tag);
  },
};
